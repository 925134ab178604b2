"""SMS: Konnect ``Messages`` over a real SMPP 3.4 path (docs/sms.md).

The API stores each message and enqueues an RQ job (:mod:`sms.jobs`); an SMS
worker (:mod:`sms.worker`) holds a transceiver bind to the operator's SMSC
(:mod:`sms.smpp`), claims each message exactly once in SQL, paces ``submit_sm``
under the bind's limit shared in Redis, and turns ``deliver_sm`` into delivery
reports and inbound (MO) messages delivered to the customer's ``callback_url``.
:mod:`sms.standin` is an SMSC that speaks SMPP over TCP for tests, ``make run``
and the benchmarks.

Layering: ``api`` → ``sms`` → ``dialer`` (store, callbacks, pacing) → ``config``.
The IVR runtime enqueues :func:`sms.jobs.send_from_call` by dotted name, never
importing this package.
"""
