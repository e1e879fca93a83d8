"""Migration operations for tables of hundreds of millions of rows.

Django's ``AlterField`` drops a foreign key and adds it back whenever anything about the field
changes, ``db_index`` included; adding it back makes PostgreSQL check every row of the table
under a lock. Dropping an index or a constraint, on the other hand, is instant. These operations
do only the dropping on PostgreSQL and let Django do its usual work elsewhere.
"""

from __future__ import annotations

from django.db import migrations


def _names(schema_editor, model, column: str, **kinds) -> list[str]:
    return sorted(schema_editor._constraint_names(model, [column], **kinds))


class AlterFieldInPlace(migrations.AlterField):
    """An ``AlterField`` that only takes things away: the index (``db_index`` turned off) or the
    database constraint (``db_constraint`` turned off) of a column. On PostgreSQL it drops just
    those, with no table rewrite and no re-validation; anything else is refused."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        from_model = from_state.apps.get_model(app_label, self.model_name)
        old = from_model._meta.get_field(self.name)
        new = to_state.apps.get_model(app_label, self.model_name)._meta.get_field(self.name)
        changed = {
            k
            for k in set(old.deconstruct()[3]) | set(new.deconstruct()[3])
            if old.deconstruct()[3].get(k) != new.deconstruct()[3].get(k)
        }
        if not changed <= {"db_index", "db_constraint"}:
            raise ValueError(f"AlterFieldInPlace only drops indexes and constraints, not {sorted(changed)}")
        if old.db_index and not new.db_index:
            for name in _names(schema_editor, from_model, old.column, index=True, unique=False, primary_key=False):
                schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")
        if getattr(old, "db_constraint", False) and not getattr(new, "db_constraint", False):
            for name in _names(schema_editor, from_model, old.column, foreign_key=True):
                schema_editor.execute(schema_editor._delete_fk_sql(from_model, name))

    def describe(self):
        return f"Drop the index or constraint of {self.model_name}.{self.name} in place"


class DropPatternIndex(migrations.operations.base.Operation):
    """Drops the ``varchar_pattern_ops`` index PostgreSQL gets beside the index of an indexed
    or unique text column (for ``LIKE 'x%'``): a cost on every insert for a search nobody runs."""

    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str, name: str):
        self.model_name, self.name = model_name, name

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        model = from_state.apps.get_model(app_label, self.model_name)
        column = model._meta.get_field(self.name).column
        for name in _names(schema_editor, model, column, index=True, unique=False, primary_key=False):
            if name.endswith("_like"):
                schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return
        model = to_state.apps.get_model(app_label, self.model_name)
        sql = schema_editor._create_like_index_sql(model, model._meta.get_field(self.name))
        if sql is not None:
            schema_editor.execute(sql)

    def describe(self):
        return f"Drop the pattern index of {self.model_name}.{self.name}"

    def deconstruct(self):
        return self.__class__.__name__, [], {"model_name": self.model_name, "name": self.name}


class AddIndexOnline(migrations.AddIndex):
    """``AddIndex`` that builds the index without locking out writes on PostgreSQL
    (``CREATE INDEX CONCURRENTLY``; the migration must say ``atomic = False``), and as usual
    elsewhere."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.add_index(model, self.index, concurrently=True)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.remove_index(model, self.index, concurrently=True)
