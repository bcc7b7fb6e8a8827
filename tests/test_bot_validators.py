import io

import pytest
from django.core.exceptions import ValidationError

from bots.validators import sniff_video, validate_alert_video

WEBM = (
    b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm"
    + b"\0" * 40
)
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\0" * 40


class Upload(io.BytesIO):
    @property
    def size(self):
        return len(self.getvalue())


def test_videos_are_recognised_by_content_not_name():
    assert sniff_video(WEBM) == "webm"
    assert sniff_video(MP4) == "mp4"
    assert sniff_video(b"<script>alert(1)</script>") is None
    assert validate_alert_video(Upload(MP4)) == "mp4"
    with pytest.raises(ValidationError, match="WebM or MP4"):
        validate_alert_video(Upload(b"GIF89a" + b"\0" * 100))


def test_size_limit(settings):
    settings.BOT_ALERT_MAX_BYTES = 100
    with pytest.raises(ValidationError, match="limit"):
        validate_alert_video(Upload(MP4 + b"\0" * 200))
