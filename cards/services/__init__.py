"""Every write of the cards app, by concern:

- ``registry``: the issuers' card registry (pushes), and the bindings a change ends;
- ``binding``: binding one card, in two steps, with the daily caps on failed attempts;
- ``bulk_binding``: an enterprise account binding a list of its cards with one code;
- ``unbinding``: ending a binding (the user, staff), its hooks and the notices of endings;
- ``cap_lift``: a supervisor lifting today's cap on failed binding attempts;
- ``titles``: invoice titles and a card's default title;
- ``shared``: the keyed digests binding compares and how refusals name the issuer.

Refusals are ``ServiceError``s with the codes of the API contract; pages and the App API show
the same messages. Binding compares keyed digests of what the user typed with the digests the
registry keeps, so neither side's full ID number or mobile is ever compared, logged or shown.
"""
