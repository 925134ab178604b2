"""HTTP in: the seeds' REST APIs (Konnect, Kairos, the seed-002 CPaaS) over Flask, and the admin CLI."""
