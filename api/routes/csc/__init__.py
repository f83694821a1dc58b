"""The Cloud Signature Consortium API: ``/csc/v1/`` (CSC API v1.0.4.0) and ``/csc/v2/`` (CSC API v2.0.0.2).

Both routers translate HTTP to ``keys.csc`` and back, each in its own version's field names and shapes.
Service authorisation is the CSC ``external`` kind (v1.0.4.0 §8.1): the caller presents this service's own
bearer token (``esign token create --official ID``) in ``Authorization: Bearer``; ``info`` answers without
one. Credential authorisation is explicit (§8.2): the holder's PIN, given to ``credentials/authorize``,
yields the SAD that ``signatures/signHash`` spends.

Errors answer in the CSC form (§10.2) ``{"error": ..., "error_description": ...}``, with the status and
wording of each method's error table, rather than the rest of the API's ``{"code", "message"}``: a route
class catches every domain error inside these routers, so the application's handlers never see them.
"""

from . import v1, v2

routers = (v1.router, v2.router)
"""What ``api/app.py`` includes."""
