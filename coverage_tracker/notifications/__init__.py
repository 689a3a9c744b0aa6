"""The daily alert e-mail: the digest's templates, SMTP delivery and the outbox that sends it once."""
