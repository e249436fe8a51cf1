"""Readable item names attached from a separate file and shown as labels."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli.main import main
from engine.errors import InputError
from engine.storage.catalog import list_logs, load_prepared
from engine.storage.item_names import attach_item_names, item_labels
from tests.conftest import shared_log


def test_names_are_matched_by_original_id_and_replace_earlier_ones(small_dataset, tmp_path: Path) -> None:
    workspace, dataset_id = small_dataset
    prepared = load_prepared(workspace, dataset_id)
    first, second = prepared.item_ids[:2]
    names = tmp_path / "items.csv"
    names.write_text(f"item_id,title,year\n{first},First Item,1999\n"
                     f"{second},\"Second, with comma\",2001\nunknown,Nope,0\n")
    named, total = attach_item_names(workspace, dataset_id, names)
    assert named == 2 and total >= len(prepared.item_ids)
    labels = item_labels(workspace, dataset_id, prepared.item_ids)
    assert labels[0] == f"{first} · First Item" and labels[1] == f"{second} · Second, with comma"
    assert labels[2] == str(prepared.item_ids[2])
    names.write_text(f"id\tname\n{first}\tRenamed\n")
    attach_item_names(workspace, dataset_id, names)
    labels = item_labels(workspace, dataset_id, prepared.item_ids)
    assert labels[0] == f"{first} · Renamed" and labels[1] == str(second)


def test_a_file_naming_no_item_of_the_log_is_refused(small_dataset, tmp_path: Path) -> None:
    workspace, dataset_id = small_dataset
    names = tmp_path / "other.csv"
    names.write_text("item_id,title\nx1,Elsewhere\n")
    with pytest.raises(InputError, match="none of its 1 item ids occurs"):
        attach_item_names(workspace, dataset_id, names)
    (tmp_path / "bare.csv").write_text("item_id,year\n1,2000\n")
    with pytest.raises(InputError, match="name that column by hand") as info:
        attach_item_names(workspace, dataset_id, tmp_path / "bare.csv")
    assert info.value.setting == "name_column"


def test_movielens_titles_from_the_recbole_item_file(tmp_path: Path, capsys) -> None:
    log = shared_log("ml100k_recbole/ml-100k.inter")
    items = shared_log("ml100k_recbole/ml-100k.item")
    workspace = ["--workspace", str(tmp_path / "ws.sqlite")]
    assert main(["import", str(log), *workspace]) == 0
    assert main(["item-names", "ml-100k", str(items), *workspace]) == 0
    assert "named 1,682 of the log's 1,682 items" in capsys.readouterr().out
    from engine.storage.workspace import Workspace

    with Workspace(tmp_path / "ws.sqlite") as opened:
        prepared = load_prepared(opened, 1)
        labels = dict(zip(prepared.item_ids, item_labels(opened, 1, prepared.item_ids), strict=True))
    assert labels["1"] == "1 · Toy Story"


def test_a_headerless_latin1_u_item_file_attaches_its_titles(small_dataset, tmp_path: Path) -> None:
    """MovieLens u.item: no header, '|' between fields, Latin-1 text: the id first, the title second."""
    workspace, dataset_id = small_dataset
    prepared = load_prepared(workspace, dataset_id)
    first, second, third = (str(item) for item in prepared.item_ids[:3])
    (tmp_path / "u.item").write_bytes(f"{first}|Caf\xe9 Society (1995)|01-Jan-1995||http://x|0|1\n"
                                      f"{second}|GoldenEye (1995)|01-Jan-1995||http://y|1|0\n"
                                      f"{third}|The Usual Suspects (1995)|14-Aug-1995||http://z|0|1\n"
                                      .encode("latin-1"))
    assert attach_item_names(workspace, dataset_id, tmp_path / "u.item") == (3, list_logs(workspace)[0].n_items)
    labels = item_labels(workspace, dataset_id, prepared.item_ids[:2])
    assert list(labels) == [f"{first} · Café Society (1995)", f"{second} · GoldenEye (1995)"]


def test_the_command_line_names_its_option_for_a_column_it_cannot_tell(small_dataset, tmp_path: Path,
                                                                        capsys) -> None:
    workspace, dataset_id = small_dataset
    (tmp_path / "bare.csv").write_text("item_id,year\n1,2000\n")
    assert main(["item-names", str(dataset_id), str(tmp_path / "bare.csv"), "--workspace",
                 workspace.display_name]) == 2
    assert "name it with --name-column NAME" in capsys.readouterr().err
