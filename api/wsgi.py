"""WSGI entry point for production: ``gunicorn --worker-class gevent api.wsgi:app``.

gunicorn's gevent worker monkey-patches the process before it imports this
module, so the store's PostgreSQL driver and Redis client cooperate with the
hub. Settings come from the environment (``config.settings()``).
"""

from api.app import create_app

app = create_app()
