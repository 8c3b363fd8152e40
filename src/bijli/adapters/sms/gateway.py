"""An HTTP SMS gateway, as Indian bulk-SMS gateways take messages under the DLT rules: the
sender header, the principal entity id and the registered template id go with every text.

The request (JSON, ``POST`` to the gateway's URL, the API key as a bearer token)::

    {"to": "+919800000001", "sender": "BIJLIU", "text": "...", "unicode": false,
     "dlt_entity_id": "1101...", "dlt_template_id": "1107...",
     "client_ref": "bijli-alert-42-sms"}

A 2xx answer is taken (its JSON ``message_id``, else the client reference, is kept as the
provider's reference); 408, 429 and 5xx, a timeout or a connection failure are tried again
later; any other 4xx is final (a number or template the gateway refuses). `client_ref` is the
same on every try, so a gateway that drops a repeated reference never sends a text twice.
"""

from __future__ import annotations

import httpx

from bijli.alerts.ports import Message, SendFailed

RETRYABLE = frozenset({408, 425, 429})


class HttpSmsGateway:
    def __init__(
        self,
        url: str,
        api_key: str,
        sender: str,
        entity_id: str,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self.sender = sender
        self.entity_id = entity_id
        self._client = httpx.Client(
            timeout=timeout_s, headers={"Authorization": f"Bearer {api_key}"}, transport=transport
        )

    def send(self, message: Message) -> str:
        body = {
            "to": message.to,
            "sender": self.sender,
            "text": message.text,
            "unicode": not message.text.isascii(),
            "dlt_entity_id": self.entity_id,
            "dlt_template_id": message.template_id,
            "client_ref": message.message_id,
        }
        try:
            answer = self._client.post(self.url, json=body)
        except httpx.HTTPError as e:
            raise SendFailed(f"SMS gateway unreachable: {type(e).__name__}") from e
        if answer.is_success:
            try:
                ref = answer.json().get("message_id")
            except ValueError:
                ref = None
            return str(ref or message.message_id)
        reason = f"SMS gateway answered {answer.status_code}: {answer.text[:120]}"
        final = answer.status_code < 500 and answer.status_code not in RETRYABLE
        raise SendFailed(reason, final=final)

    def close(self) -> None:
        self._client.close()
