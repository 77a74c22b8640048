"""The watch cache: which children an SLO has, which are stale, which watch events are our own echo."""

from __future__ import annotations

from typing import Any

from slo_operator.render import NAME_LABEL
from slo_operator.watch_cache import Listings, WatchCache, newer, owned_versions, restores, stale_children

RULES = "prometheusrules"


def child(name: str, owner: str = "checkout", uid: str = "uid-1", version: str = "10") -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": "shop",
            "resourceVersion": version,
            "labels": {NAME_LABEL: owner},
            "ownerReferences": [{"uid": uid, "controller": True}],
        }
    }


def test_primed_children_are_found_by_owner_and_stale_ones_computed() -> None:
    cache = WatchCache()
    cache.prime_children(RULES, [child("checkout-slo"), child("checkout-old"), child("other-slo", "other")])
    existing = owned_versions(cache.children(RULES, "shop", "checkout"), "uid-1")
    assert existing == {"checkout-slo": "10", "checkout-old": "10"}
    assert stale_children(existing, ["checkout-slo"]) == ["checkout-old"]
    assert stale_children(existing, ["checkout-slo", "checkout-old"]) == []


def test_children_of_a_deleted_namesake_are_not_the_new_slos() -> None:
    cache = WatchCache()
    cache.prime_children(RULES, [child("checkout-slo", uid="old-uid")])
    assert owned_versions(cache.children(RULES, "shop", "checkout"), "new-uid") == {}


def test_echo_of_our_own_apply_is_not_news_but_a_hand_edit_is() -> None:
    cache = WatchCache()
    cache.record_child(RULES, child("checkout-slo", version="11"))
    assert cache.observe_child(RULES, "MODIFIED", child("checkout-slo", version="11")) is False
    assert cache.observe_child(RULES, "MODIFIED", child("checkout-slo", version="9")) is False  # older
    assert cache.observe_child(RULES, "MODIFIED", child("checkout-slo", version="12")) is True
    assert owned_versions(cache.children(RULES, "shop", "checkout"), "uid-1") == {"checkout-slo": "12"}


def test_deletions_by_others_are_news_our_own_are_not() -> None:
    cache = WatchCache()
    cache.prime_children(RULES, [child("checkout-slo"), child("checkout-old")])
    cache.forget_child(RULES, "shop", "checkout", "checkout-old")
    assert cache.observe_child(RULES, "DELETED", child("checkout-old")) is False
    assert cache.observe_child(RULES, "DELETED", child("checkout-slo")) is True
    assert cache.children(RULES, "shop", "checkout") == {}
    assert cache.children_by_owner == {}  # nothing kept for an SLO without children


def test_unlabelled_objects_are_ignored() -> None:
    cache = WatchCache()
    assert cache.observe_child(RULES, "MODIFIED", {"metadata": {"name": "x", "namespace": "shop"}}) is False
    assert cache.children_by_owner == {}


def test_resource_versions_compare_as_numbers_when_they_are() -> None:
    assert newer("100", "99") and not newer("99", "100") and newer("5", "5")
    assert newer("opaque", "x") and newer(None, "1") and newer("1", None)


def test_policies_follow_their_watch_events() -> None:
    cache = WatchCache()
    policy = {"metadata": {"name": "strict", "namespace": "shop", "uid": "p1"}, "spec": {"steps": []}}
    cache.observe_policy(None, policy)
    assert cache.policies("shop") == [policy]
    assert cache.policies("other") == []
    cache.observe_policy("DELETED", policy)
    assert cache.policies("shop") == [] and cache.policies_by_namespace == {}


def test_a_relisting_after_410_gone_reconciles_only_what_changed_while_the_watch_was_away() -> None:
    """kopf answers a watch that cannot resume (410 Gone after an API server restart) with a fresh LIST,
    delivered as events of type None. 1,000 children listed again unchanged: no reconcile, the cache
    keeps one entry per child; the one edited during the gap: its SLO is reconciled, once."""
    cache = WatchCache()
    children = [
        child(f"slo-{i}-slo", owner=f"slo-{i}", uid=f"uid-{i}", version=str(100 + i)) for i in range(1000)
    ]
    cache.prime_children(RULES, children)
    before = {key: dict(table) for key, table in cache.children_by_owner.items()}
    edited = child("slo-7-slo", owner="slo-7", uid="uid-7", version="5000")
    relisted = [edited if c["metadata"]["name"] == "slo-7-slo" else c for c in children]
    decisions = [restores(None, cache.observe_child(RULES, None, c)) for c in relisted]
    assert decisions.count(True) == 1 and decisions[7] is True
    assert len(cache.children_by_owner) == 1000
    assert cache.children(RULES, "shop", "slo-7") == {"slo-7-slo": ("uid-7", "5000", "")}
    assert {k: v for k, v in cache.children_by_owner.items() if k[2] != "slo-7"} == {
        k: v for k, v in before.items() if k[2] != "slo-7"
    }
    # A second re-listing (the next restart) of the same objects is no news at all.
    assert not any(restores(None, cache.observe_child(RULES, None, c)) for c in relisted)


def test_only_changes_by_others_call_for_a_reconcile() -> None:
    assert restores("MODIFIED", True) and restores("DELETED", True) and restores(None, True)
    assert not restores("ADDED", True)  # the echo of our own create
    assert not any(restores(kind, False) for kind in (None, "ADDED", "MODIFIED", "DELETED"))


def test_a_resync_finds_children_deleted_or_changed_while_the_watch_was_away() -> None:
    """A re-listing has no DELETED events: the LIST taken when it starts replaces the cache, and names the
    SLOs to restore. Children of other namespaces (another watch's scope) are left alone."""
    cache = WatchCache()
    cache.prime_children(RULES, [child("a-slo", "a", "uid-a", "10"), child("b-slo", "b", "uid-b", "11"),
                                 child("c-slo", "c", "uid-c", "12"), child("d-slo", "d", "uid-d", "13")])
    elsewhere = child("e-slo", "e", "uid-e", "14")
    elsewhere["metadata"]["namespace"] = "other"
    cache.observe_child(RULES, "ADDED", elsewhere)
    cache.record_child(RULES, child("d-slo", "d", "uid-d", "40"))  # our apply, after the LIST was read
    listed = [child("b-slo", "b", "uid-b", "30"), child("c-slo", "c", "uid-c", "12"),
              child("d-slo", "d", "uid-d", "13"), child("f-slo", "f", "uid-f", "31")]
    assert cache.resync_children(RULES, "shop", listed) == {("shop", "a"), ("shop", "b")}
    assert cache.children(RULES, "shop", "a") == {}
    assert cache.children(RULES, "shop", "b") == {"b-slo": ("uid-b", "30", "")}
    assert cache.children(RULES, "shop", "d") == {"d-slo": ("uid-d", "40", "")}  # the newer one is kept
    assert cache.children(RULES, "shop", "f") == {"f-slo": ("uid-f", "31", "")}
    assert cache.children(RULES, "other", "e") == {"e-slo": ("uid-e", "14", "")}
    assert cache.resync_children(RULES, "shop", listed) == set()  # nothing new: nothing to restore


def test_a_resync_of_policies_names_those_deleted_meanwhile() -> None:
    cache = WatchCache()
    policy = {"metadata": {"namespace": "shop", "uid": "p1", "name": "strict"}}
    kept = {"metadata": {"namespace": "shop", "uid": "p2", "name": "lenient"}}
    other = {"metadata": {"namespace": "other", "uid": "p3", "name": "x"}}
    for body in (policy, kept, other):
        cache.observe_policy(None, body)
    assert cache.resync_policies("shop", [kept]) == [policy]
    assert cache.policies("shop") == [kept] and cache.policies("other") == [other]


def test_a_relisting_is_told_apart_from_the_first_listing_and_from_live_events() -> None:
    listings = Listings(gap=30)
    scope = (RULES, "")
    listings.primed(scope, now=0)
    assert not any(listings.starts(scope, None, t) for t in (1, 2, 3))  # kopf's first listing
    assert not listings.starts(scope, "MODIFIED", 4)
    assert listings.starts(scope, None, 5)  # 410 Gone: kopf lists again
    assert not listings.starts(scope, None, 6)
    assert listings.starts(scope, None, 40)  # a pause longer than the gap: another listing
    assert listings.starts((RULES, "elsewhere"), None, 41)  # never primed
