"""Pages for people, served by the same process as the API: server-rendered Jinja2 templates, message catalogs
(Chinese by default, English by a switch) and static assets that esign serves itself, so the pages work on a
network with no internet. ``api.app`` includes :func:`web.app.install`; nothing here imports ``api``.
"""
