"""The per-call IVR runtime on FreeSWITCH's outbound event socket."""
