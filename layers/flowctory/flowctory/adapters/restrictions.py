"""Whether a user asked us to restrict the processing of their data (GDPR Art. 18).

The flag is `restricted` on the user's profile item; the data-rights work sets it. Publishing
reads it right after claiming a post, so a restricted user's post is never sent to TikTok.
"""

from flowctory.adapters import keys
from flowctory.adapters.dynamodb import SingleTable


class ProcessingRestrictions:
    def __init__(self, table: SingleTable) -> None:
        self._table = table

    def is_restricted(self, user_id: str) -> bool:
        item = self._table.get(keys.profile_key(user_id), consistent=True)
        return bool(item and item.get("restricted"))
