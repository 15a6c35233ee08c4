"""The web UI and its JSON API: runs, their graphs, tasks, logs, artifacts and cards, live.

Read-only over the metadata database and the datastore (:mod:`headwater.ui.reader`), served by
Starlette on uvicorn (``pip install 'headwater[ui]'``) and loaded only by ``headwater ui`` and
``python flow.py card server``: nothing here is imported by a run.

- ``server.serve`` checks the address and starts uvicorn; ``app.create_app`` builds the app.
- ``security`` guards every request (loopback or a token; GET only).
- ``api`` answers under ``/api``; ``events`` streams changes (server-sent events).
- ``pages`` are HTML shells that ``static/ui.js`` fills from the API; ``layout`` places the
  graph's steps for the run page.
"""
