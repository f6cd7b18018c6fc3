"""Authentication: who sends a request (OIDC access tokens, API keys, browser sessions) as a
`Principal`.

What a principal may see is the service's policy, not decided here. This room knows neither the
HTTP front end (api/ hands it header values) nor the engine.
"""

from .authenticate import Authenticator, TokenCache
from .keys import ApiKey, ApiKeys
from .sessions import COOKIE, Session, SessionStore
from .signin import STATE_COOKIE, SignIn, SignInError
from .tokens import JwksKeys, TokenVerifier

__all__ = [
    "COOKIE",
    "STATE_COOKIE",
    "ApiKey",
    "ApiKeys",
    "Authenticator",
    "JwksKeys",
    "Session",
    "SessionStore",
    "SignIn",
    "SignInError",
    "TokenCache",
    "TokenVerifier",
]
