"""Service e-mails through Amazon SES (v2). In the sandbox, moto keeps them for the local outbox page."""

from flowctory.adapters import aws
from flowctory.domain.emails import Mail
from flowctory.observability import logger


class SesMailer:
    def __init__(self, sender: str) -> None:
        self._sender = sender

    def send(self, mail: Mail) -> None:
        """Send a plain-text e-mail; its body holds links with tokens, so it is never logged."""
        response = aws.sesv2().send_email(
            FromEmailAddress=self._sender,
            Destination={"ToAddresses": [mail.to]},
            Content={
                "Simple": {
                    "Subject": {"Data": mail.subject, "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": mail.text, "Charset": "UTF-8"}},
                }
            },
        )
        logger.info("e-mail sent", subject=mail.subject, message_id=response.get("MessageId"))
