"""Authentication: who sends a request (OIDC access tokens, API keys) as a `Principal`.

What a principal may see is the service's policy, not decided here. This room knows neither the
HTTP front end (api/ hands it header values) nor the engine.
"""

from .authenticate import Authenticator, TokenCache
from .keys import ApiKey, ApiKeys
from .tokens import JwksKeys, TokenVerifier

__all__ = ["ApiKey", "ApiKeys", "Authenticator", "JwksKeys", "TokenCache", "TokenVerifier"]
