"""Campaigns, pacing, RQ jobs and the durable store of accounts, contacts, call requests and CDRs."""
