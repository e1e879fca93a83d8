"""The contact centre's console: queues of tickets, the call log, the customer view and the
dashboard. Writes go through ``support.services``; refusals come back as messages.

One module a concern, each registering its pages:

- ``tickets``: the ticket queues and one ticket's page, the SLA policies;
- ``calls``: the call log, the live call notice and its wrap-up, the callback list;
- ``customers``: the customer view and the lifting of a binding cap;
- ``message_centre``: what users were told in their message centre;
- ``staff_audit``: openings of masked originals, and 我的操作记录;
- ``faq``: the help centre's questions and categories;
- ``switch``: agents' extensions and the telephone switch's tokens;
- ``dashboard``: the reports;
- ``base``: what they share (masked text, the customer link, edits with a reason, page-only admins).
"""

# Imported for their registrations (``admin.register``): Django's autodiscovery imports this package.
from . import calls, customers, dashboard, faq, message_centre, staff_audit, switch, tickets  # noqa: F401
