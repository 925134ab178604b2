"""FreeSWITCH: the ESL client the platform uses, the ESL-faithful simulator, and the configuration we ship."""
