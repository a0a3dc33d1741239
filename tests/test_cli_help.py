"""The help a user reads: every command described, every option explained, no markup."""

import argparse

import pytest

from faconv.pipeline.cli import build_parser, main


def _commands(parser):
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices


def test_top_level_help_lists_the_commands_in_plain_text(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "``" not in out and ":class:" not in out
    for name in ("demo", "train", "embed", "cluster", "compare", "ablate"):
        assert f"  {name}" in out


@pytest.mark.parametrize("name", ["demo", "train", "embed", "cluster", "compare", "ablate"])
def test_every_command_has_a_description_and_every_option_a_help(name):
    cmd = _commands(build_parser())[name]
    assert cmd.description and len(cmd.description) > 40
    for action in cmd._actions:
        assert action.help, f"{name}: {action.option_strings} has no help"
    text = cmd.format_help()
    assert "(default: None)" not in text and "(default: False)" not in text


def test_ablate_takes_its_config_like_the_other_commands():
    args = build_parser().parse_args(["ablate", "--config", "run.yaml"])
    assert args.config == "run.yaml"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["ablate", "run.yaml"])


def test_faconv_warnings_are_one_line_each_once_per_command(capsys):
    """A compare trains several models: faconv's own warning shows once, as a line naming the
    command; another package's warning is left to Python's own display."""
    import warnings

    import faconv.pipeline.cli as cli

    with (
        pytest.warns(UserWarning, match="from elsewhere") as elsewhere,
        cli.warnings_as_lines("compare"),
    ):
        for _ in range(3):
            warnings.warn_explicit("sst left out of the loss", UserWarning, cli.__file__, 1)
        warnings.warn_explicit("from elsewhere", UserWarning, "/elsewhere/x.py", 7)
    err = capsys.readouterr().err
    assert err.count("faconv compare: warning: sst left out of the loss") == 1
    assert err.count("sst left out") == 1 and "from elsewhere" not in err
    assert [w.filename for w in elsewhere] == ["/elsewhere/x.py"]
