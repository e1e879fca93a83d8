"""The invoicing pages, a module per concern (``invoices/urls.py`` routes them):

- ``mixins``: what they share, the card and month a page shows and the keyset pager;
- ``home``: 首页 (a signed-in user's cards, open applications and newest invoices);
- ``trips``: 通行记录 and 充值记录;
- ``apply``: 我要开票 and its confirmation step;
- ``applications``: an application's progress, 重新发送邮件, 重新申请 and 换票;
- ``invoices``: 我的发票, an invoice and 红冲;
- ``batches``: 批量开票, its confirmation step and its progress;
- ``downloads``: the files the pages serve (PDF, XML, ZIPs, the finance ledger);
- ``verify``: the public verification page (发票查验).

Their forms are in ``invoices.forms``; what they read is in ``invoices.selectors`` and what they
change goes through the services, the same as the App API's."""
