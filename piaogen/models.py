"""The kernel's own table: broker messages that could not be decoded (piaogen/broker.py)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class SetAsideMessage(models.Model):
    """A message the worker could not read, kept instead of stopping the worker or dropping it
    silently. Shown in the console (admins); the raw text helps to tell what sent it."""

    set_aside_at = models.DateTimeField(_("搁置时间"), auto_now_add=True, db_index=True)
    broker = models.CharField(_("消息代理"), max_length=20)
    queue = models.CharField(_("队列"), max_length=200, blank=True)
    name = models.CharField(_("消息名"), max_length=200, blank=True, help_text=_("文件名或任务编号"))
    reason = models.CharField(_("原因"), max_length=300)
    size = models.PositiveIntegerField(_("长度（字符）"), default=0)
    body = models.TextField(_("原文（前 64K 字符）"), blank=True)

    class Meta:
        verbose_name = _("搁置的消息")
        verbose_name_plural = _("搁置的消息")
        ordering = ["-set_aside_at", "-id"]

    def __str__(self) -> str:
        return f"{self.broker}:{self.queue} {self.name or self.pk}"
