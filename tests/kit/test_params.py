"""Query and path parameters are parsed with the API's own messages."""

from __future__ import annotations

import uuid

import pytest

from reten.kit.errors import ValidationFailed
from reten.kit.params import parse_enum_list, parse_uuid


class TestParseUuid:
    def test_the_canonical_spelling_is_accepted_in_either_case(self) -> None:
        value = uuid.uuid4()
        assert parse_uuid("id", str(value)) == value
        assert parse_uuid("id", str(value).upper()) == value

    @pytest.mark.parametrize(
        "raw",
        [
            "{12345678-1234-5678-1234-567812345678}",
            "urn:uuid:12345678-1234-5678-1234-567812345678",
            "12345678123456781234567812345678",
            "not-a-uuid",
            "",
        ],
    )
    def test_other_spellings_are_refused_naming_the_parameter(self, raw: str) -> None:
        with pytest.raises(ValidationFailed) as caught:
            parse_uuid("commerceId", raw)
        assert caught.value.details == [{"field": "commerceId", "message": "must be a UUID"}]


class TestParseEnumList:
    def test_values_are_comma_separated_and_deduplicated(self) -> None:
        assert parse_enum_list("status", "B,A,B", ["A", "B"]) == ["B", "A"]

    def test_an_unknown_value_lists_what_is_accepted(self) -> None:
        with pytest.raises(ValidationFailed) as caught:
            parse_enum_list("status", "A,C", ["A", "B"])
        assert caught.value.details == [{"field": "status", "message": "must be one of A, B"}]
