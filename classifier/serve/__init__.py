"""``feedtag serve``: suggestions, decisions and audits over HTTP for help-desk integrations.

``config`` holds the options and the token rule, ``schemas`` the request and response bodies,
``service`` what a worker loads (model, taxonomy, decisions store), ``app`` the routes,
``metrics`` the Prometheus counters, ``openapi`` the published description, and ``server``
starts uvicorn. Importing this package loads neither uvicorn nor the model.
"""

from classifier.serve.config import ServeConfig


def run(config: ServeConfig) -> None:
    """Serve until SIGTERM or Ctrl-C (see ``classifier.serve.server.run``)."""
    from classifier.serve.server import run as serve

    serve(config)


__all__ = ["ServeConfig", "run"]
