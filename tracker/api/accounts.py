"""API v1 account endpoints: tokens, and who the caller is."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed, NotFound, ValidationError
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tracker.accounts import selectors, services
from tracker.accounts.models import ApiToken
from tracker.common.clock import utc_now


def _user(request: Request) -> User:
    """The authenticated caller; only for views whose permissions require authentication."""
    assert isinstance(request.user, User)
    return request.user


class CredentialsSerializer(serializers.Serializer[Any]):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, style={"input_type": "password"})


class IssuedTokenSerializer(serializers.Serializer[Any]):
    token = serializers.CharField(help_text="The key. Shown this once; only its hash is stored.")
    id = serializers.IntegerField()
    prefix = serializers.CharField()
    expires_at = serializers.DateTimeField()


class TokenSerializer(serializers.ModelSerializer[ApiToken]):
    class Meta:
        model = ApiToken
        fields = ["id", "prefix", "created_at", "expires_at", "last_used_at"]
        read_only_fields = fields


class UserSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField()
    is_staff = serializers.BooleanField()
    authenticated_by = serializers.ChoiceField(choices=["token", "session"])


class TokenView(APIView):
    """Exchange a username and password for an API token, or revoke the token in use."""

    # The password check itself is limited (TRACKER_THROTTLE_TOKEN) by the authentication
    # backend, tracker.accounts.backends, for this view and the login forms alike.

    def get_permissions(self) -> list[BasePermission]:
        return [AllowAny()] if self.request.method == "POST" else [IsAuthenticated()]

    @extend_schema(
        request=CredentialsSerializer,
        responses={201: IssuedTokenSerializer, 401: OpenApiResponse(description="Bad credentials")},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        credentials = CredentialsSerializer(data=request.data)
        credentials.is_valid(raise_exception=True)
        user = authenticate(
            request._request,
            username=credentials.validated_data["username"],
            password=credentials.validated_data["password"],
        )
        if user is None:
            raise AuthenticationFailed("Invalid username or password.")
        issued = services.token_issue(user=user, now=utc_now())
        body = {
            "token": issued.key,
            "id": issued.token.id,
            "prefix": issued.token.prefix,
            "expires_at": issued.token.expires_at,
        }
        return Response(IssuedTokenSerializer(body).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        responses={
            204: None,
            400: OpenApiResponse(description="Authenticated by a session, not by a token."),
        }
    )
    def delete(self, request: Request) -> Response:
        if not isinstance(request.auth, ApiToken):
            raise ValidationError(
                {"detail": "Send the token to revoke in the Authorization header."}
            )
        services.token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenListView(APIView):
    """The caller's own API tokens (never their keys)."""

    @extend_schema(responses=TokenSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(TokenSerializer(selectors.tokens_of(user=_user(request)), many=True).data)


class TokenDetailView(APIView):
    """Revoke one of the caller's own tokens."""

    @extend_schema(responses={204: None})
    def delete(self, request: Request, token_id: int) -> Response:
        token = selectors.tokens_of(user=_user(request)).filter(id=token_id).first()
        if token is None:
            raise NotFound(f"Token {token_id} does not exist.")
        services.token_revoke(token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    """Who the caller is, and how they authenticated."""

    @extend_schema(responses=UserSerializer)
    def get(self, request: Request) -> Response:
        user = request.user
        body = {
            "id": user.pk,
            "username": user.get_username(),
            "email": getattr(user, "email", ""),
            "is_staff": user.is_staff,
            "authenticated_by": "token" if isinstance(request.auth, ApiToken) else "session",
        }
        return Response(UserSerializer(body).data)
