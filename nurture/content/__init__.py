"""Content: what a prospect reads. Rendering templates (`render`), what they may see
(`context`), composing a message for its channel (`compose`, `message`), signed links
(`links`), SMS encoding (`sms`) and checking every step on sample data (`validate`)."""
