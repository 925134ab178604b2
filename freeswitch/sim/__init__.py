"""An ESL-faithful FreeSWITCH 1.10 stand-in: inbound and outbound Event Socket over real TCP, scripted callers.

Run it with ``python -m freeswitch.sim`` (or the ``fs-sim`` console script);
embed it with :class:`freeswitch.sim.server.Simulator`; start it as a child
process from tests with :class:`freeswitch.sim.process.SimulatorProcess`.
docs/simulator.md describes the behaviour, the scenario file and the
per-call ``sim_*`` channel variables.
"""
