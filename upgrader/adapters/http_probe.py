"""`HttpProbe` on the standard library: one GET, its status code, no retries.

Redirects are followed (urllib's default) so a probe of `http://` behind an HTTPS redirect sees
the final answer. Every failure to get an answer becomes ServiceUnavailableError: for a gate,
a service that does not answer is down, whatever the socket said.
"""

from __future__ import annotations

import urllib.error
import urllib.request

from upgrader.core.errors import ServiceUnavailableError, UserError

_USER_AGENT = "eksup-rollout-probe"


class UrllibHttpProbe:
    def get_status(self, url: str, timeout_seconds: float) -> int:
        if not url.startswith(("http://", "https://")):
            raise UserError(f"an HTTP probe needs an http:// or https:// URL, got {url}")
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
        try:
            with urllib.request.urlopen(request, timeout=timeout_seconds) as response:
                status: int = response.status
                return status
        except urllib.error.HTTPError as error:
            # A 4xx/5xx is an answer: the gate compares it with the expected status.
            return error.code
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ServiceUnavailableError(f"GET {url}: no answer ({reason})") from None
