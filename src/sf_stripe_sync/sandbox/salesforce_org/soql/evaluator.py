"""Run a parsed SOQL query against the org's records and shape the REST response.

Theory of operation: ``execute`` parses, then *compiles* the query against the schema
before touching any record: every field path is resolved (relationship ``Account`` ->
lookup ``AccountId`` -> sObject ``Account``), every literal is type-checked, and the
WHERE clause becomes one Python predicate. Unknown names fail here, with Salesforce's
INVALID_FIELD / INVALID_TYPE, even when no record would match. Then records are
filtered (only the candidates of an id condition the WHERE clause requires, when it has
one: ``Id IN (...)``, ``ContractId = ...``, looked up in the store's indexes; the
predicate still decides; child subqueries read their parents' children the same way,
so a page of orders costs the page, not the org), sorted (stable, one pass per ORDER BY
key, last key first), cut by OFFSET/LIMIT and shaped: ``attributes`` first, then fields
in SELECT order, parent fields nested under their relationship name (or null), child
subqueries as nested query results paged at the batch size (the rest behind a ``nextRecordsUrl``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sf_stripe_sync.sandbox.salesforce_org.describe import ObjectSpec, OrgSchema
from sf_stripe_sync.sandbox.salesforce_org.soql.ast import (
    BoolOp,
    ChildQuery,
    Comparison,
    Condition,
    CountAll,
    FieldPath,
    InList,
    Like,
    Not,
    Query,
    SemiJoin,
    SoqlError,
    Value,
    malformed,
)
from sf_stripe_sync.sandbox.salesforce_org.soql.parser import parse_soql
from sf_stripe_sync.sandbox.salesforce_org.soql.values import (
    ID_TYPES,
    TEXT_TYPES,
    check_literal,
    compare,
    effective_type,
    like_pattern,
    literal_comparable,
    stored_comparable,
)
from sf_stripe_sync.sandbox.salesforce_org.store import OrgStore

Record = dict[str, Any]
Predicate = Callable[[Record], bool]
PageRegistrar = Callable[[list[Record]], str]
"""Keeps a full list of shaped records and returns the nextRecordsUrl of its 2nd page."""


@dataclass(frozen=True)
class Resolved:
    hops: tuple[tuple[str, str], ...]  # (relationship name, lookup field) per parent hop
    name: str  # canonical field name (as written when the target is unknown)
    type: str


@dataclass
class QueryOutcome:
    records: list[Record]
    count_only: bool


class Evaluator:
    def __init__(
        self,
        schema: OrgSchema,
        store: OrgStore,
        *,
        base_path: str,
        batch_size: int,
        today: Callable[[], date],
        register_pages: PageRegistrar,
        use_indexes: bool = True,
    ) -> None:
        """``use_indexes=False`` reads every record of each sObject instead (the
        reference the indexed answers are tested against)."""
        self.use_indexes = use_indexes
        self.schema = schema
        self.store = store
        self.base_path = base_path
        self.batch_size = batch_size
        self.today = today
        self.register_pages = register_pages

    # -- entry point -----------------------------------------------------------------
    def execute(self, source: str, *, include_deleted: bool = False) -> QueryOutcome:
        query = parse_soql(source)
        obj = self._object(query.sobject)
        predicate = self._compile_where(obj, query.where, include_deleted)
        shape = self._compile_shape(obj, query, include_deleted)
        rows = [r for r in self._pool(obj, query.where, include_deleted) if predicate(r)]
        rows = self._order_and_cut(obj, query, rows)
        if any(isinstance(item, CountAll) for item in query.select):
            return QueryOutcome([{} for _ in rows], count_only=True)
        return QueryOutcome(shape(rows), count_only=False)

    # -- names -----------------------------------------------------------------------
    def _object(self, name: str) -> ObjectSpec:
        obj = self.schema.find(name)
        if obj is None:
            raise SoqlError(
                "INVALID_TYPE",
                f"\nsObject type '{name}' is not supported. If you are attempting to use a "
                "custom object, be sure to append the '__c' after the entity name. Please "
                "reference your WSDL or the describe call for the appropriate names.",
            )
        return obj

    def resolve(self, obj: ObjectSpec | None, path: FieldPath) -> Resolved:
        hops: list[tuple[str, str]] = []
        current = obj
        for part in path.parts[:-1]:
            if current is None:
                lookup = part[:-3] + "__c" if part.lower().endswith("__r") else part + "Id"
                hops.append((part, lookup))
                continue
            spec = current.lookup_for_relationship(part)
            if spec is None:
                raise SoqlError(
                    "INVALID_FIELD",
                    f"\nDidn't understand relationship '{part}' in field path. If you are "
                    "attempting to use a custom relationship, be sure to append the '__r' "
                    "after the custom relationship name. Please reference your WSDL or the "
                    "describe call for the appropriate names.",
                )
            hops.append((spec.relationship_name or part, spec.name))
            current = self.schema.find(spec.reference_to) if spec.reference_to else None
        last = path.parts[-1]
        if current is None:
            return Resolved(tuple(hops), last, "anyType")
        field = current.field(last)
        if field is None:
            raise SoqlError(
                "INVALID_FIELD",
                f"\nNo such column '{last}' on entity '{current.name}'. If you are attempting "
                "to use a custom field, be sure to append the '__c' after the custom field "
                "name. Please reference your WSDL or the describe call for the appropriate "
                "names.",
            )
        return Resolved(tuple(hops), field.name, field.type)

    def _walk(self, record: Record, resolved: Resolved) -> Record | None:
        current: Record | None = record
        for _, lookup in resolved.hops:
            ref = current.get(lookup) if current is not None else None
            current = self.store.get(ref) if isinstance(ref, str) and ref else None
            if current is None:
                return None
        return current

    def value_of(self, record: Record, resolved: Resolved) -> Any:
        holder = self._walk(record, resolved)
        if holder is None:
            return None
        raw = holder.get(resolved.name)
        return bool(raw) if resolved.type == "boolean" else raw

    # -- WHERE -----------------------------------------------------------------------
    def _compile_where(
        self, obj: ObjectSpec, cond: Condition | None, include_deleted: bool
    ) -> Predicate:
        if cond is None:
            return lambda _r: True
        return self._compile(obj, cond, include_deleted)

    def _compile(self, obj: ObjectSpec, cond: Condition, include_deleted: bool) -> Predicate:
        if isinstance(cond, BoolOp):
            parts = [self._compile(obj, c, include_deleted) for c in cond.operands]
            if cond.op == "AND":
                return lambda r: all(p(r) for p in parts)
            return lambda r: any(p(r) for p in parts)
        if isinstance(cond, Not):
            inner = self._compile(obj, cond.operand, include_deleted)
            return lambda r: not inner(r)
        resolved = self.resolve(obj, cond.field)
        if isinstance(cond, Comparison):
            check_literal(resolved.name, resolved.type, cond.value)
            ftype = effective_type(resolved.type, cond.value.kind)
            literal = literal_comparable(resolved.type, cond.value, self.today())
            is_range = cond.value.kind == "relative"
            op = cond.op
            return lambda r: compare(
                op, stored_comparable(ftype, self.value_of(r, resolved)), literal, is_range
            )
        if isinstance(cond, InList):
            for value in cond.values:
                check_literal(resolved.name, resolved.type, value)
            kinds = {v.kind for v in cond.values if v.kind != "null"}
            ftype = effective_type(resolved.type, next(iter(kinds), "string"))
            today = self.today()
            members = {literal_comparable(resolved.type, v, today) for v in cond.values}
            negated = cond.negated

            def in_list(r: Record) -> bool:
                return (stored_comparable(ftype, self.value_of(r, resolved)) in members) != negated

            return in_list
        if isinstance(cond, Like):
            if resolved.type not in TEXT_TYPES | ID_TYPES | {"anyType"}:
                raise SoqlError("INVALID_FIELD", f"\ninvalid operator on field '{resolved.name}'")
            pattern = like_pattern(cond.pattern.raw)

            def like(r: Record) -> bool:
                value = self.value_of(r, resolved)
                return value is not None and pattern.fullmatch(str(value)) is not None

            return like
        if isinstance(cond, SemiJoin):
            return self._compile_semi_join(resolved, cond, include_deleted)
        raise malformed("unsupported condition")  # pragma: no cover

    def _compile_semi_join(
        self, resolved: Resolved, cond: SemiJoin, include_deleted: bool
    ) -> Predicate:
        sub = cond.query
        if resolved.type not in ID_TYPES | {"anyType"}:
            raise SoqlError("INVALID_FIELD", f"\nsemi join on non-id field '{resolved.name}'")
        if len(sub.select) != 1 or not isinstance(sub.select[0], FieldPath):
            raise malformed("a semi join sub-select selects exactly one id field")
        sub_obj = self._object(sub.sobject)
        sub_field = self.resolve(sub_obj, sub.select[0])
        if sub_field.type not in ID_TYPES | {"anyType"}:
            raise SoqlError("INVALID_FIELD", f"\nsemi join selects non-id field {sub_field.name}")
        sub_predicate = self._compile_where(sub_obj, sub.where, include_deleted)
        rows = [r for r in self._pool(sub_obj, sub.where, False) if sub_predicate(r)]
        rows = self._order_and_cut(sub_obj, sub, rows)
        found = {str(v)[:15] for r in rows if (v := self.value_of(r, sub_field))}
        negated = cond.negated

        def semi_join(r: Record) -> bool:
            value = self.value_of(r, resolved)
            return (value is not None and str(value)[:15] in found) != negated

        return semi_join

    def _pool(self, obj: ObjectSpec, cond: Condition | None,
              include_deleted: bool) -> Iterable[Record]:
        """The records the WHERE clause can match, in insertion order: the store's
        candidates for the narrowest id condition it requires, or every record."""
        found = self._candidates(obj, cond)
        if found is None:
            return self.store.rows(obj.name, include_deleted=include_deleted)
        return [r for r in found if include_deleted or not r.get("IsDeleted")]

    def _children(self, sobject: str, lookup: str, parents: set[str]) -> Iterable[Record]:
        if not self.use_indexes:
            return self.store.rows(sobject, include_deleted=True)
        return self.store.referencing(sobject, lookup, parents)

    def _candidates(self, obj: ObjectSpec, cond: Condition | None) -> list[Record] | None:
        if not self.use_indexes:
            return None
        if isinstance(cond, BoolOp) and cond.op == "AND":
            options = [c for c in (self._candidates(obj, c) for c in cond.operands)
                       if c is not None]
            return min(options, key=len) if options else None
        if isinstance(cond, Comparison) and cond.op == "=":
            values: tuple[Value, ...] = (cond.value,)
        elif isinstance(cond, InList) and not cond.negated:
            values = cond.values
        else:
            return None
        resolved = self.resolve(obj, cond.field)
        if resolved.hops or resolved.type not in ID_TYPES or any(
                v.kind != "string" for v in values):
            return None
        ids = [str(v.value) for v in values]
        if resolved.name == "Id":
            return self.store.with_ids(obj.name, ids)
        return self.store.referencing(obj.name, resolved.name, ids)

    # -- ORDER BY / LIMIT / OFFSET -----------------------------------------------------
    def _order_and_cut(self, obj: ObjectSpec, query: Query, rows: list[Record]) -> list[Record]:
        for key in reversed(query.order_by):
            resolved = self.resolve(obj, key.field)
            keyed = [(stored_comparable(resolved.type, self.value_of(r, resolved)), r)
                     for r in rows]
            present = [(k, r) for k, r in keyed if k is not None]
            missing = [r for k, r in keyed if k is None]
            present.sort(key=lambda pair: pair[0], reverse=key.descending)
            ordered = [r for _, r in present]
            rows = ordered + missing if key.nulls_last else missing + ordered
        start = query.offset or 0
        end = None if query.limit is None else start + query.limit
        return rows[start:end]

    # -- shaping -----------------------------------------------------------------------
    def _attributes(self, sobject: str, record_id: str) -> dict[str, str]:
        return {"type": sobject, "url": f"{self.base_path}/sobjects/{sobject}/{record_id}"}

    def _compile_shape(
        self, obj: ObjectSpec, query: Query, include_deleted: bool, *, nested: bool = False
    ) -> Callable[[list[Record]], list[Record]]:
        plan: list[tuple[str, Any]] = []
        for item in query.select:
            if isinstance(item, FieldPath):
                plan.append(("field", self.resolve(obj, item)))
            elif isinstance(item, ChildQuery):
                if nested:
                    raise malformed("a child subquery cannot hold another subquery")
                plan.append(("child", self._compile_child(obj, item.query, include_deleted)))

        def shape_all(rows: list[Record]) -> list[Record]:
            children = {id(kind_spec): kind_spec[1](rows) for kind_spec in plan
                        if kind_spec[0] == "child"}
            shaped = []
            for row in rows:
                out: Record = {"attributes": self._attributes(obj.name, row["Id"])}
                walked: dict[tuple[tuple[str, str], ...], tuple[Record, Record] | None] = {}
                for kind_spec in plan:
                    kind, spec = kind_spec
                    if kind == "field":
                        self._put_field(out, row, spec, walked)
                    else:
                        rel, groups = children[id(kind_spec)]
                        out[rel] = groups.get(row["Id"][:15])
                shaped.append(out)
            return shaped

        return shape_all

    def _put_field(self, out: Record, row: Record, resolved: Resolved,
                   walked: dict[tuple[tuple[str, str], ...], tuple[Record, Record] | None],
                   ) -> None:
        """Put one selected field of ``row`` into its shaped ``out``; ``walked`` keeps
        the row's parent walks (the fields of one parent share one walk)."""
        if not resolved.hops:
            raw = row.get(resolved.name)
            out[resolved.name] = bool(raw) if resolved.type == "boolean" else raw
            return
        if resolved.hops in walked:
            reached = walked[resolved.hops]
        else:
            reached = walked[resolved.hops] = self._walk_into(out, row, resolved.hops)
        if reached is not None:
            container, current = reached
            raw = current.get(resolved.name)
            container[resolved.name] = bool(raw) if resolved.type == "boolean" else raw

    def _walk_into(self, out: Record, row: Record, hops: tuple[tuple[str, str], ...]
                   ) -> tuple[Record, Record] | None:
        """The shaped node and the record at the end of ``hops`` (nodes made on the way),
        or None when a parent is missing (its relationship shaped as null)."""
        container, current = out, row
        for rel, lookup in hops:
            ref = current.get(lookup)
            parent = self.store.get(ref) if isinstance(ref, str) and ref else None
            if parent is None:
                container.setdefault(rel, None)
                return None
            node = container.get(rel)
            if not isinstance(node, dict):
                sobject = self.store.sobject_of(parent["Id"]) or ""
                node = {"attributes": self._attributes(sobject, parent["Id"])}
                container[rel] = node
            container, current = node, parent
        return container, current

    def _compile_child(
        self, parent: ObjectSpec, sub: Query, include_deleted: bool
    ) -> Callable[[list[Record]], tuple[str, dict[str, Record]]]:
        found = self.schema.child_relationship(parent, sub.sobject)
        if found is None:
            raise SoqlError(
                "INVALID_TYPE",
                f"\nDidn't understand relationship '{sub.sobject}' in FROM part of query call. "
                "If you are attempting to use a custom relationship, be sure to append the "
                "'__r' after the custom relationship name. Please reference your WSDL or the "
                "describe call for the appropriate names.",
            )
        child_obj, lookup = found
        rel_name = self._relationship_label(parent, sub.sobject)
        predicate = self._compile_where(child_obj, sub.where, include_deleted)
        shape = self._compile_shape(child_obj, sub, include_deleted, nested=True)
        # validate ORDER BY names now, even if there are no rows
        for key in sub.order_by:
            self.resolve(child_obj, key.field)

        def run(parents: list[Record]) -> tuple[str, dict[str, Record]]:
            wanted = {p["Id"][:15] for p in parents}
            grouped: dict[str, list[Record]] = defaultdict(list)
            for row in self._children(child_obj.name, lookup.name, wanted):
                ref = row.get(lookup.name)
                if (isinstance(ref, str) and ref[:15] in wanted and predicate(row)
                        and (include_deleted or not row.get("IsDeleted"))):
                    grouped[ref[:15]].append(row)
            blocks = {key: self._child_block(shape(self._order_and_cut(child_obj, sub, rows)))
                      for key, rows in grouped.items()}
            return rel_name, {k: v for k, v in blocks.items() if v is not None}

        return run

    def _relationship_label(self, parent: ObjectSpec, written: str) -> str:
        for rel, _child, _spec in self.schema.child_relationships(parent):
            if rel.lower() == written.lower():
                return rel
        return written

    def _child_block(self, records: list[Record]) -> Record | None:
        if not records:
            return None
        block: Record = {"totalSize": len(records), "done": len(records) <= self.batch_size,
                         "records": records[: self.batch_size]}
        if len(records) > self.batch_size:
            block["nextRecordsUrl"] = self.register_pages(records)
        return block


