"""`reten commerces import FILE --tenant SLUG`, run as a real subprocess on a SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from reten.commerces.models import Address, Commerce
from reten.kit.db import Database
from reten.tenants.models import Tenant

RETEN = [sys.executable, "-m", "reten.cli.main"]


def _run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETEN_")}
    env.update(RETEN_DATABASE_URL=url, RETEN_LOG_LEVEL="WARNING")
    return subprocess.run(
        [*RETEN, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'import.db'}"
    created = _run(
        url, "tenants", "create", "acme", "--name", "Acme", "--admin-email", "a@acme.test"
    )
    assert created.returncode == 0, created.stderr
    return url


async def _stored(url: str) -> dict[str, tuple[Commerce, list[Address]]]:
    db = Database(url)
    try:
        async with db.sessionmaker() as session:
            tenant_id = (
                await session.execute(select(Tenant.id).where(Tenant.slug == "acme"))
            ).scalar_one()
            commerces = (
                await session.execute(select(Commerce).where(Commerce.tenant_id == tenant_id))
            ).scalars()
            addresses = list(
                (
                    await session.execute(select(Address).where(Address.tenant_id == tenant_id))
                ).scalars()
            )
            return {
                c.external_id: (c, [a for a in addresses if a.commerce_id == c.id])
                for c in commerces
            }
    finally:
        await db.dispose()


CSV = """\
external_id,name,tax_id,global_external_id,is_active,street,street_number,city,commune,region,country_code,latitude,longitude,formatted_address
C-1,Uno,T-1,G-1,true,Main,12,Santiago,Providencia,RM,cl,-33.4,-70.6,"Main 12, Santiago"
C-2,Dos,T-1,,,,,,,,,,,
C-3,Tres,,,false,,,,,,,,,
C-4,,,,,,,,,,,,,
C-5,Cinco,,,,,,Lima,,,PE,,,
C-3,Tres again,,,,,,,,,,,,
"""


class TestImportCommand:
    async def test_csv_loads_good_rows_and_reports_bad_ones_by_line(
        self, tmp_path: Path, database: str
    ) -> None:
        path = tmp_path / "commerces.csv"
        path.write_text(CSV)

        result = _run(database, "commerces", "import", str(path), "--tenant", "acme")

        assert result.returncode == 1, result.stderr
        assert result.stdout.strip() == "created 3, updated 0, errors 3"
        assert "line 3: tax_id: must be unique in the request (same as line 2)" in result.stderr
        assert "line 5: name: is required" in result.stderr
        assert "line 7: external_id: repeats line 4" in result.stderr
        stored = await _stored(database)
        assert set(stored) == {"C-1", "C-3", "C-5"}
        one, (address,) = stored["C-1"]
        assert (one.name, one.tax_id, one.global_external_id, one.is_active) == (
            "Uno", "T-1", "G-1", True,
        )  # fmt: skip
        assert (address.source_ref, address.is_primary, address.source) == (
            "import", True, "INTEGRATION",
        )  # fmt: skip
        assert (address.street, address.street_number, address.country_code) == ("Main", "12", "CL")
        assert (address.latitude, address.longitude) == (-33.4, -70.6)
        assert address.formatted_address == "Main 12, Santiago"
        assert stored["C-3"][0].is_active is False and stored["C-3"][1] == []
        assert stored["C-5"][1][0].city == "Lima"

    async def test_a_second_import_updates_and_never_duplicates_the_address(
        self, tmp_path: Path, database: str
    ) -> None:
        first = tmp_path / "first.csv"
        first.write_text("external_id,name,city,tax_id\nC-1,Uno,Santiago,T\n")
        second = tmp_path / "second.csv"
        second.write_text("external_id,name,city,tax_id\nC-1,Uno (2),Valparaíso,\n")

        _run(database, "commerces", "import", str(first), "--tenant", "acme")
        result = _run(database, "commerces", "import", str(second), "--tenant", "acme")

        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "created 0, updated 1, errors 0"
        commerce, addresses = (await _stored(database))["C-1"]
        assert commerce.name == "Uno (2)"
        assert commerce.tax_id == "T"  # an empty cell is "not given"
        assert [a.city for a in addresses] == ["Valparaíso"]

    async def test_json_list_or_items_object_with_line_numbers(
        self, tmp_path: Path, database: str
    ) -> None:
        as_object = tmp_path / "object.json"
        as_object.write_text(
            '{"source": ["x"],\n "items": [\n'
            '  {"external_id": "J-1", "name": "Jota", "users": [{"external_id": "u", "name": "Ana Paz"}]},\n'
            '  {"externalId": "J-2",\n   "name": ""},\n'
            '  "not an object"\n]}\n'
        )
        as_list = tmp_path / "list.json"
        as_list.write_text(
            json.dumps([{"external_id": "J-3", "name": "Tres", "metadata": {"k": 1}}])
        )

        result = _run(database, "commerces", "import", str(as_object), "--tenant", "acme")
        listed = _run(database, "commerces", "import", str(as_list), "--tenant", "acme")

        assert result.stdout.strip() == "created 1, updated 0, errors 2"
        assert "line 4: name: must not be empty" in result.stderr
        assert "line 6: must be an object" in result.stderr
        assert listed.returncode == 0 and listed.stdout.strip() == "created 1, updated 0, errors 0"
        stored = await _stored(database)
        assert set(stored) == {"J-1", "J-3"}
        assert stored["J-3"][0].metadata_ == {"k": 1}

    async def test_files_are_loaded_in_chunks_of_1000(self, tmp_path: Path, database: str) -> None:
        rows = ["external_id,name"] + [f"K-{i:04d},Store {i}" for i in range(1200)]
        rows[1101] = "K-1100,"  # line 1102, in the second chunk
        path = tmp_path / "big.csv"
        path.write_text("\n".join(rows) + "\n")

        result = _run(database, "commerces", "import", str(path), "--tenant", "acme")

        assert result.stdout.strip() == "created 1199, updated 0, errors 1"
        assert "line 1102: name: is required" in result.stderr
        assert len(await _stored(database)) == 1199

    def test_unusable_input_fails_with_a_message(self, tmp_path: Path, database: str) -> None:
        bad_json = tmp_path / "bad.json"
        bad_json.write_text("{nope")
        no_name = tmp_path / "no_name.csv"
        no_name.write_text("external_id,title\nA,x\n")
        other = tmp_path / "data.txt"
        other.write_text("x")
        good = tmp_path / "good.json"
        good.write_text("[]")

        cases: list[tuple[list[str], str]] = [
            ([str(bad_json), "--tenant", "acme"], "not valid JSON"),
            ([str(no_name), "--tenant", "acme"], "lacks the column(s) name"),
            ([str(other), "--tenant", "acme"], "expected a .csv or .json file"),
            ([str(tmp_path / "missing.csv"), "--tenant", "acme"], "cannot read"),
            ([str(good), "--tenant", "nope"], "no tenant with slug 'nope'"),
        ]
        for args, message in cases:
            result = _run(database, "commerces", "import", *args)
            assert result.returncode == 1, args
            assert message in " ".join(result.stderr.split()), result.stderr

    def test_an_empty_list_loads_nothing(self, tmp_path: Path, database: str) -> None:
        path = tmp_path / "empty.json"
        path.write_text('{"items": []}')
        result = _run(database, "commerces", "import", str(path), "--tenant", "acme")
        assert result.returncode == 0 and result.stdout.strip() == "created 0, updated 0, errors 0"
