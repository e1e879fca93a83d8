# The trips' key table got PostgreSQL's pattern index beside its primary key (Django adds one
# for a text primary key): nothing searches trip ids by prefix, and every new trip wrote an entry
# in it. Dropped in place (piaogen.migration_ops); no rows are touched.

from django.db import migrations

from piaogen.migration_ops import DropPatternIndex


class Migration(migrations.Migration):
    dependencies = [("invoices", "0017_issue_days")]

    operations = [DropPatternIndex("transitkey", "transit_id")]
