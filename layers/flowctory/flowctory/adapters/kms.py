"""KMS encryption of small secrets (TikTok tokens) under an EncryptionContext."""

from botocore.exceptions import ClientError

from flowctory.adapters import aws
from flowctory.errors import UndecryptableSecret


class KmsTokenCipher:
    def __init__(self, key_id: str) -> None:
        self._key_id = key_id

    def encrypt(self, plaintext: bytes, *, context: dict[str, str]) -> bytes:
        response = aws.kms().encrypt(KeyId=self._key_id, Plaintext=plaintext, EncryptionContext=context)
        return response["CiphertextBlob"]

    def decrypt(self, ciphertext: bytes, *, context: dict[str, str]) -> bytes:
        """Raises:
        UndecryptableSecret: KMS refused the ciphertext under this context.
        """
        try:
            response = aws.kms().decrypt(KeyId=self._key_id, CiphertextBlob=ciphertext, EncryptionContext=context)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"InvalidCiphertextException", "IncorrectKeyException"}:
                raise UndecryptableSecret("the stored tokens cannot be decrypted under this context") from None
            raise
        return response["Plaintext"]
