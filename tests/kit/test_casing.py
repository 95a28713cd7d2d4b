"""Snake case in, camel case out (management-api.md §1.4): reten.kit.casing."""

from __future__ import annotations

from reten.kit.casing import Spelling, normalise_keys, to_camel, to_snake

FREEFORM = frozenset({"metadata", "raw_payload", "payload"})


class TestNameConversion:
    def test_to_snake_splits_camel_humps(self) -> None:
        assert to_snake("commerceId") == "commerce_id"
        assert to_snake("futureScheduledAt") == "future_scheduled_at"
        assert to_snake("addressLine2") == "address_line2"
        assert to_snake("already_snake") == "already_snake"

    def test_to_camel_joins_snake_words(self) -> None:
        assert to_camel("commerce_id") == "commerceId"
        assert to_camel("future_scheduled_at") == "futureScheduledAt"
        assert to_camel("name") == "name"

    def test_round_trip(self) -> None:
        for name in ("task_result", "requires_future_scheduled_at", "id", "expires_at"):
            assert to_snake(to_camel(name)) == name


class TestNormaliseKeys:
    def test_camel_case_is_accepted_at_the_top_level(self) -> None:
        data, _ = normalise_keys({"commerceId": "c-1", "scheduledAt": "2026-01-01T00:00:00Z"})

        assert data == {"commerce_id": "c-1", "scheduled_at": "2026-01-01T00:00:00Z"}

    def test_camel_case_is_accepted_at_any_depth(self) -> None:
        data, _ = normalise_keys(
            {"taskResult": {"futureScheduledAt": "x", "contactInfo": {"contactType": "INBOUND"}}}
        )

        assert data == {
            "task_result": {"future_scheduled_at": "x", "contact_info": {"contact_type": "INBOUND"}}
        }

    def test_objects_inside_lists_are_normalised(self) -> None:
        data, _ = normalise_keys({"items": [{"externalId": "a"}, {"external_id": "b"}, "plain", 3]})

        assert data == {"items": [{"external_id": "a"}, {"external_id": "b"}, "plain", 3]}

    def test_top_level_list_is_normalised(self) -> None:
        data, _ = normalise_keys([{"externalId": "a"}])

        assert data == [{"external_id": "a"}]

    def test_snake_case_wins_when_both_spellings_are_sent(self) -> None:
        camel_first, _ = normalise_keys({"commerceId": "camel", "commerce_id": "snake"})
        snake_first, _ = normalise_keys({"commerce_id": "snake", "commerceId": "camel"})

        assert camel_first == {"commerce_id": "snake"}
        assert snake_first == {"commerce_id": "snake"}

    def test_snake_case_wins_in_nested_objects_too(self) -> None:
        data, _ = normalise_keys(
            {"task_result": {"futureScheduledAt": "camel", "future_scheduled_at": "snake"}}
        )

        assert data == {"task_result": {"future_scheduled_at": "snake"}}

    def test_camel_and_snake_parents_are_not_merged(self) -> None:
        # The snake object wins whole; the camel object's fields are not mixed into it.
        data, _ = normalise_keys(
            {"taskResult": {"comment": "camel"}, "task_result": {"result": "R"}}
        )

        assert data == {"task_result": {"result": "R"}}

    def test_free_form_values_are_copied_verbatim(self) -> None:
        metadata = {"someKey": 1, "nested": {"innerKey": [{"deepKey": True}]}, "snake_key": None}

        data, _ = normalise_keys({"externalId": "e", "metadata": metadata}, FREEFORM)

        assert data == {"external_id": "e", "metadata": metadata}
        assert data["metadata"] is metadata

    def test_free_form_field_sent_in_camel_case_keeps_its_value_untouched(self) -> None:
        data, _ = normalise_keys(
            {"rawPayload": {"orderId": 7, "lineItems": [{"skuCode": "A"}]}}, FREEFORM
        )

        assert data == {"raw_payload": {"orderId": 7, "lineItems": [{"skuCode": "A"}]}}

    def test_free_form_objects_nested_in_structured_ones_are_untouched(self) -> None:
        data, _ = normalise_keys(
            {"taskResult": {"resultCode": "R", "payload": {"someKey": "v"}}}, FREEFORM
        )

        assert data == {"task_result": {"result_code": "R", "payload": {"someKey": "v"}}}

    def test_without_free_form_names_every_object_is_normalised(self) -> None:
        data, _ = normalise_keys({"metadata": {"someKey": 1}})

        assert data == {"metadata": {"some_key": 1}}

    def test_scalars_pass_through(self) -> None:
        for value in ("text", 1, 1.5, None, True):
            data, spelling = normalise_keys(value)
            assert data == value
            assert spelling.keys == {}


class TestSpellingPath:
    def test_path_uses_the_callers_camel_spelling(self) -> None:
        _, spelling = normalise_keys({"taskResult": {"futureScheduledAt": "x"}})

        assert (
            spelling.path(("task_result", "future_scheduled_at")) == "taskResult.futureScheduledAt"
        )

    def test_path_uses_snake_where_the_caller_wrote_snake(self) -> None:
        _, spelling = normalise_keys({"task_result": {"future_scheduled_at": "x"}})

        assert (
            spelling.path(("task_result", "future_scheduled_at"))
            == "task_result.future_scheduled_at"
        )

    def test_path_through_lists_names_indexes_and_each_items_spelling(self) -> None:
        _, spelling = normalise_keys({"items": [{"externalId": "a"}, {"external_id": "b"}]})

        assert spelling.path(("items", 0, "external_id")) == "items[0].externalId"
        assert spelling.path(("items", 1, "external_id")) == "items[1].external_id"

    def test_path_of_a_field_the_caller_did_not_send_keeps_the_schema_name(self) -> None:
        _, spelling = normalise_keys({"taskResult": {"comment": "c"}})

        assert spelling.path(("task_result", "result")) == "taskResult.result"
        assert spelling.path(("scheduled_at",)) == "scheduled_at"

    def test_path_below_a_missing_object_falls_back_to_the_schema_names(self) -> None:
        _, spelling = normalise_keys({})

        assert spelling.path(("items", 3, "external_id")) == "items[3].external_id"

    def test_path_names_the_snake_field_when_both_spellings_were_sent(self) -> None:
        _, spelling = normalise_keys({"commerceId": "camel", "commerce_id": "snake"})

        assert spelling.path(("commerce_id",)) == "commerce_id"

    def test_path_names_a_permission_index(self) -> None:
        _, spelling = normalise_keys({"permissions": ["A", "B"]})

        assert spelling.path(("permissions", 1)) == "permissions[1]"

    def test_empty_spelling_echoes_the_location(self) -> None:
        assert Spelling().path(("a_b", 2, "c_d")) == "a_b[2].c_d"
