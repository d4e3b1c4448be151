"""The hostile-input replay (tests/hostile_inputs.py) handles every attack: one line, the
right exit status, the warehouse unchanged, nothing written where the attack aimed."""

from hostile_inputs import ATTACKS, replay


def test_every_hostile_input_is_handled(tmp_path):
    report = replay(tmp_path)
    assert report["attacks_tried"] == len(ATTACKS) >= 70
    assert report["failures"] == [], "\n".join(f"{f['attack']}: {f['problems']} | {f['stderr']}" for f in report["failures"])


def test_every_command_has_a_hostile_input():
    """Walks the command tree, so a new command needs an attack in tests/hostile_inputs.py."""
    import typer

    from wsdb.cli import app

    def leaves(command, path=()):
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                yield from leaves(sub, (*path, name))
        else:
            yield path

    attacked = {tuple(attack.args[:2]) for attack in ATTACKS} | {tuple(attack.args[:1]) for attack in ATTACKS}
    missing = [" ".join(path) for path in leaves(typer.main.get_command(app)) if path not in attacked]
    # `jobs` lists by default: its group name is the command
    assert missing == ["jobs list"] or missing == [], missing
