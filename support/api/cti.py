"""The switch's endpoint: ``POST /api/v1/cti/events`` (docs/contact-centre.md).

Only a switch token opens it (``support.cti.SwitchTokenAuthentication``); partner and App tokens
are unknown here (401), and a switch token is unknown on every other endpoint.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from piaogen.api import ErrorSerializer

from .. import cti
from ..models import Call


class IsSwitch(BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, cti.Switch)


class CtiEventSerializer(serializers.Serializer):
    event = serializers.ChoiceField(
        choices=[cti.NEW_CALL, cti.ANSWER, cti.HANGUP],
        error_messages={"invalid_choice": _("event 须为 newCall、answer 或 hangup。")},
    )
    call_id = serializers.RegexField(
        cti.CALL_ID_RE,
        max_length=64,
        error_messages={"invalid": _("call_id 须为 1 到 64 个字母、数字或 . _ : @ -。")},
    )
    at = serializers.DateTimeField(required=False, help_text="事件时间（ISO 8601）；不填为收到的时间")
    locals()["from"] = serializers.CharField(
        required=False, allow_blank=True, max_length=32, help_text="newCall：来电号码（隐藏号码可为空或 anonymous）"
    )
    locals()["to"] = serializers.CharField(
        required=False, allow_blank=True, max_length=32, help_text="newCall：被叫号码"
    )
    direction = serializers.ChoiceField(choices=["in", "out"], required=False, default="in")
    queue = serializers.CharField(required=False, allow_blank=True, max_length=32)
    extension = serializers.RegexField(r"^[0-9A-Za-z*#-]{0,16}$", required=False, allow_blank=True, max_length=16)
    agent_id = serializers.IntegerField(required=False, min_value=1, max_value=2**62)
    cause = serializers.RegexField(r"^[A-Za-z_]{0,24}$", required=False, allow_blank=True, max_length=24)


class CtiCallSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    outcome = serializers.ChoiceField(choices=Call.Outcome.choices)
    caller_known = serializers.BooleanField()
    agent_id = serializers.IntegerField(allow_null=True)
    wait_seconds = serializers.IntegerField(allow_null=True)
    handle_seconds = serializers.IntegerField(allow_null=True)


class CtiEventResultSerializer(serializers.Serializer):
    call_id = serializers.CharField()
    event = serializers.CharField()
    result = serializers.ChoiceField(choices=["applied", "duplicate"])
    call = CtiCallSerializer()
    warnings = serializers.ListField(child=serializers.CharField())


class CtiEventView(APIView):
    authentication_classes = [cti.SwitchTokenAuthentication]
    permission_classes = [IsSwitch]
    throttle_classes: list = []

    @extend_schema(
        operation_id="cti_event",
        request=CtiEventSerializer,
        responses={200: CtiEventResultSerializer, 400: ErrorSerializer, 401: ErrorSerializer},
        summary="交换机呼叫事件（newCall / answer / hangup），按呼叫编号和事件幂等",
        tags=["cti"],
    )
    def post(self, request):
        form = CtiEventSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        d = form.validated_data
        outcome = cti.switch_event(
            event=d["event"],
            call_id=d["call_id"],
            at=d.get("at"),
            caller=d.get("from", ""),
            called=d.get("to", ""),
            direction=d.get("direction") or "in",
            queue=d.get("queue", ""),
            extension=d.get("extension", ""),
            agent_id=d.get("agent_id"),
            cause=d.get("cause", ""),
        )
        call = outcome.call
        return Response(
            {
                "call_id": d["call_id"],
                "event": d["event"],
                "result": "applied" if outcome.applied else "duplicate",
                "call": {
                    "id": call.pk,
                    "outcome": call.outcome,
                    "caller_known": call.user_id is not None,
                    "agent_id": call.agent_id,
                    "wait_seconds": call.wait_seconds,
                    "handle_seconds": call.handle_seconds,
                },
                "warnings": outcome.warnings,
            }
        )
