from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from surveys.importing import ImportRejected, responses_import
from surveys.models import Criterion, Group, Participant, Priority, Ranking, Rating, Study, Wave

pytestmark = pytest.mark.django_db

HEADER = "participant,groups,wave,task,item,criterion,value\n"
GOOD = HEADER + (
    "p1,senior;wheelchair,before,rating,s1,access,3\n"
    "p1,senior;wheelchair,before,rating,s2,access,4\n"
    "p2,,before,rating,s1,access,2\n"
    "p1,senior;wheelchair,before,ranking,a,beauty,2\n"
    "p1,senior;wheelchair,before,ranking,b,beauty,1\n"
    "p1,senior;wheelchair,before,priority,,access,10\n"
    "p2,,after,rating,s1,access,1\n"
)


def _write(tmp_path, text):
    path = tmp_path / "answers.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_it_imports_a_good_file_creating_what_is_needed(tmp_path, capsys):
    call_command(
        "import_responses", _write(tmp_path, GOOD), study="city", create=True, title="City", scale_min=1, scale_max=4
    )
    study = Study.objects.get(slug="city")
    assert (study.scale_min, study.scale_max, study.title_en) == (1, 4, "City")
    assert list(Wave.objects.filter(study=study).values_list("name", flat=True)) == ["before", "after"]
    assert set(Group.objects.filter(study=study).values_list("label_en", flat=True)) == {"senior", "wheelchair"}
    assert dict(Criterion.objects.filter(study=study).values_list("name", "kind")) == {
        "access": "rating",
        "beauty": "ranking",
    }
    assert Rating.objects.filter(participant__study=study).count() == 4
    assert Ranking.objects.get().order == ["b", "a"]
    assert Priority.objects.get().tokens == 10
    p1 = Participant.objects.get(study=study, code="p1")
    assert set(p1.groups.values_list("label_en", flat=True)) == {"senior", "wheelchair"}
    assert "Imported 7 rows" in capsys.readouterr().out


def test_importing_the_same_file_twice_changes_nothing(tmp_path):
    path = _write(tmp_path, GOOD)
    call_command("import_responses", path, study="city", create=True, scale_min=1, scale_max=4)
    call_command("import_responses", path, study="city")
    assert Rating.objects.count() == 4 and Participant.objects.count() == 2 and Ranking.objects.count() == 1


BAD_CASES = [
    ("p1,,w,rating,s1,access,7\n", "row 2: rating 7 is outside the scale 1–4"),
    ("p1,,w,rating,s1,access,x\n", "row 2: value 'x' is not a whole number"),
    ("p1,,w,vote,s1,access,1\n", "row 2: task 'vote' must be one of rating, ranking, priority"),
    ("p1,,w,rating,,access,1\n", "row 2: item is empty"),
    (",,w,rating,s1,access,1\n", "row 2: participant is empty"),
    ("p1,,w,ranking,a,beauty,1\np1,,w,ranking,b,beauty,1\n", "row 3: position 1 is given twice"),
    (
        "p1,,w,ranking,a,beauty,1\np2,,w,ranking,a,beauty,1\np2,,w,ranking,b,beauty,2\n",
        "row 2: the ranking of beauty by p1 in w is not a permutation of its 2 images",
    ),
    ("p1,,w,priority,,access,4\n", "row 2: priority tokens of p1 in w sum to 4, not 10"),
    ("p1,a,w,rating,s1,access,1\np1,b,w,rating,s2,access,1\n", "row 3: participant p1 has groups b here"),
    ("p1,,w,rating,s1,access,1\np1,,w,rating,s1,access,2\n", "row 3: duplicate of row 2"),
    ("p1,,w,rating,s1,access,1\np1,,w,ranking,s1,access,1\n", "row 3: criterion access is a rating criterion"),
    ("p1,,w,rating,s1," + "x" * 121 + ",1\n", "is 121 characters long; names hold at most 120"),
    ("p1,a\tb,w,rating,s1,access,1\n", "holds a control character"),
    ("p1,,w,rating,s1\n", "row 2: expected 7 columns, found 5"),
]


@pytest.mark.parametrize(("rows", "message"), BAD_CASES)
def test_a_bad_row_rejects_the_whole_file_with_its_row_number(rows, message):
    Study.objects.create(slug="city", title_en="City", scale_min=1, scale_max=4)
    with pytest.raises(ImportRejected) as rejected:
        responses_import(text=HEADER + rows, study_slug="city")
    assert any(message in error for error in rejected.value.errors), rejected.value.errors
    assert not Rating.objects.exists() and not Participant.objects.exists() and not Wave.objects.exists()


def test_a_good_row_before_a_bad_one_is_not_written(tmp_path, capsys):
    Study.objects.create(slug="city", title_en="City", scale_min=1, scale_max=4)
    text = HEADER + "p1,,w,rating,s1,access,2\np2,,w,rating,s1,access,9\n"
    with pytest.raises(CommandError, match="rejected, nothing was imported"):
        call_command("import_responses", _write(tmp_path, text), study="city")
    assert "row 3: rating 9 is outside the scale 1–4" in capsys.readouterr().err
    assert not Rating.objects.exists()


def test_it_rejects_a_missing_header_and_an_unknown_study(tmp_path):
    with pytest.raises(ImportRejected, match="no study 'nope'"):
        responses_import(text=GOOD, study_slug="nope")
    Study.objects.create(slug="city", title_en="City", scale_min=1, scale_max=4)
    with pytest.raises(ImportRejected, match="missing column"):
        responses_import(text="participant,wave\np1,w\n", study_slug="city")


def test_the_command_exits_non_zero_on_rejection(tmp_path):
    import subprocess
    import sys

    # A missing file is refused before any database access, so this runs against any database.
    missing = str(tmp_path / "missing.csv")
    result = subprocess.run(
        [sys.executable, "manage.py", "import_responses", missing, "--study", "zzz-none"],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "missing.csv: no such file" in result.stderr


NAMED = HEADER + (
    "p1,Wheelchair users;LGBTQIA2+;Seniors 65+,Avant la discussion,rating,Rue Fleury Est,sécurité,3\n"
    "p1,Wheelchair users;LGBTQIA2+;Seniors 65+,Avant la discussion,rating,"
    '"Boul. Saint-Laurent, coin Mont-Royal",sécurité,4\n'
    "p2,Aînés 65+,Avant la discussion,rating,Rue Fleury Est,sécurité,2\n"
    "p2,Aînés 65+,Avant la discussion,ranking,L'avenue du Parc,Qu'est-ce qui est beau?,1\n"
    "p2,Aînés 65+,Avant la discussion,ranking,Rue Fleury Est (photo),Qu'est-ce qui est beau?,2\n"
)


def test_names_are_free_text_and_codes_are_derived(tmp_path):
    from analytics.loading import study_data_load

    call_command("import_responses", _write(tmp_path, NAMED), study="city", create=True, scale_min=1, scale_max=4)
    study = Study.objects.get(slug="city")
    groups = {g.label_en: g.code for g in Group.objects.filter(study=study)}
    assert groups == {
        "Wheelchair users": "wheelchair-users",
        "LGBTQIA2+": "lgbtqia2-plus",
        "Seniors 65+": "seniors-65-plus",
        "Aînés 65+": "aines-65-plus",
    }
    assert set(study.sites.values_list("name", flat=True)) == {
        "Rue Fleury Est",
        "Boul. Saint-Laurent, coin Mont-Royal",
    }
    assert all(code and " " not in code for code in study.sites.values_list("code", flat=True))
    criterion = Criterion.objects.get(study=study, name="Qu'est-ce qui est beau?")
    assert criterion.kind == "ranking" and criterion.label_en == "Qu'est-ce qui est beau?"
    assert criterion.code == "quest-ce-qui-est-beau"
    ranking = Ranking.objects.get()
    images = dict(study.images.values_list("code", "name"))
    assert [images[c] for c in ranking.order] == ["L'avenue du Parc", "Rue Fleury Est (photo)"]
    assert Wave.objects.get(study=study).name == "Avant la discussion"
    # The report names groups as written.
    assert set(study_data_load(study=study).data.group_names) == set(groups)


def test_cells_match_existing_things_by_name_or_code(tmp_path):
    call_command("import_responses", _write(tmp_path, NAMED), study="city", create=True, scale_min=1, scale_max=4)
    study = Study.objects.get(slug="city")
    fleury = study.sites.get(name="Rue Fleury Est")
    again = HEADER + f"p3,seniors-65-plus,Avant la discussion,rating,{fleury.code},securite,1\n"
    responses_import(text=again, study_slug="city")
    rating = Rating.objects.get(participant__code="p3")
    assert rating.site == fleury and rating.criterion.name == "sécurité"
    assert set(Participant.objects.get(code="p3").groups.values_list("label_en", flat=True)) == {"Seniors 65+"}
    assert Group.objects.filter(study=study).count() == 4


def test_a_name_of_120_characters_is_taken_and_a_longer_one_says_how_to_fix_it():
    Study.objects.create(slug="city", title_en="City", scale_min=1, scale_max=4)
    name = "é" * 120
    responses_import(text=HEADER + f"p1,{name},w,rating,{name},{name},1\n", study_slug="city")
    assert Group.objects.get().label_en == name and len(Group.objects.get().code) <= 60
    with pytest.raises(ImportRejected) as rejected:
        responses_import(text=HEADER + f"p1,,w,rating,{name}x,access,1\n", study_slug="city")
    assert "the item name" in rejected.value.errors[0] and "at most 120" in rejected.value.errors[0]
