"""The learner's program runs with the lesson's settings as KAFKALAB_* variables, so a
`kafkalab …` command it starts (lesson 6 runs `kafkalab kafka`) reaches the prepared cluster."""

from pathlib import Path

from kafkalab import exercise as kit
from kafkalab.curriculum import manifest
from kafkalab.curriculum.exercises import Program


def test_the_program_sees_the_settings_it_was_given(tmp_path: Path) -> None:
    spec = tmp_path / "06.json"
    kit.write_spec(spec, kit.Setup(lesson=6, config={}, registry={}))
    file = tmp_path / "06-developer-tools" / "exercise.py"
    file.parent.mkdir()
    file.write_text("import os\nprint('port', os.environ['KAFKALAB_BROKER_PORT'])\n")
    lesson = next(x for x in manifest.load() if x.number == 6)
    program = Program(file, spec, lesson, 30, quiet=True, env={"KAFKALAB_BROKER_PORT": "29999"})
    try:
        program.run()
    finally:
        program.close()
    assert "port 29999" in program.output
