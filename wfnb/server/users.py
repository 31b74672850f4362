"""Who a request acts as: the wfnb user of a Jupyter request (the handlers and the sockets
ask here; it imports nothing of the extension, so no module of it imports another in a
circle)."""
from __future__ import annotations

import os
import pwd

from jupyter_server.auth.identity import (IdentityProvider, LegacyIdentityProvider,
                                          PasswordIdentityProvider)

# jupyter_server's own identity providers: a token or password opens the server, and whoever
# holds it gets a new anonymous user (a random hex name) per browser: that is the server's owner
ANONYMOUS = (IdentityProvider, PasswordIdentityProvider, LegacyIdentityProvider)


def user_name(handler) -> str:
    """The wfnb user of a request: Jupyter's authenticated user (under JupyterHub, the Hub
    user; with an identity provider that names people, that name). With jupyter_server's own
    token/password login, which names nobody, it is the account the server runs as (from the
    system's user database, not from an environment variable such as WFNB_USER)."""
    if type(handler.identity_provider) in ANONYMOUS:
        return pwd.getpwuid(os.getuid()).pw_name
    return handler.current_user.username
