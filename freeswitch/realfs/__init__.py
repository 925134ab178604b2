"""A real FreeSWITCH for Vaani: the shipped configuration installed into one, and one started and stopped.

Two jobs, for operators and for our own end-to-end suite (``make e2e``):

* :func:`install_conf` lays ``freeswitch/conf/`` into a FreeSWITCH configuration directory (the stock
  tree a FreeSWITCH 1.10 installs, ``/etc/freeswitch`` with distribution packages): copies our files,
  includes ``vars_vaani.xml`` from ``vars.xml``, loads the modules the platform needs and takes the
  switch limits from our variables. It is idempotent and keeps an operator's edited ``vars_vaani.xml``.
* :mod:`freeswitch.realfs.process` runs a FreeSWITCH binary on a private tree (configuration, logs,
  databases, pid file under one directory), waits for its event socket, and stops it by pid.

FreeSWITCH itself is not built here: install it from your distribution's or SignalWire's packages, or
build it from its source as its own documentation says; this needs only its ``bin/freeswitch`` and the
configuration tree it installed.
"""

from freeswitch.realfs.conf import REQUIRED_MODULES, install_conf, set_vars

__all__ = ["REQUIRED_MODULES", "install_conf", "set_vars"]
