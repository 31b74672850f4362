"""A Jupyter Server IdentityProvider for tests: several tokens, each the login of one user.

    jupyter lab --ServerApp.identity_provider_class=tests.identity.TokenUsers \\
        --TokenUsers.users='{"alice-token": "alice", "bob-token": "bob"}'

A token authenticates as its user in an ``Authorization: token X`` header, in ``?token=X``
(a browser opening ``/lab?token=X`` then carries that user in its login cookie), and typed
into the login page. The server's own token still works, as Jupyter's anonymous user (who
has no wfnb role)."""
from __future__ import annotations

from jupyter_server.auth.identity import IdentityProvider, User
from traitlets import Dict


class TokenUsers(IdentityProvider):
    users = Dict(config=True, help="Token -> user name: each token logs in as that user.")

    def user_of(self, token: str | None) -> User | None:
        name = self.users.get(token) if token else None
        return User(username=name, name=name, display_name=name) if name else None

    async def get_user_token(self, handler) -> User | None:
        # the base class sets the login cookie and marks the request token-authenticated
        return self.user_of(self.get_token(handler)) or await super().get_user_token(handler)

    def process_login_form(self, handler) -> User | None:
        typed = handler.get_argument("password", default="")
        if self.token and typed == self.token:
            return self.generate_anonymous_user(handler)
        return self.user_of(typed)
