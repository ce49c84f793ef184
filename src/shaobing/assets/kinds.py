"""Asset types of the ledger (A2) and their Chinese labels."""

from __future__ import annotations

from enum import StrEnum


class AssetType(StrEnum):
    """Kinds of assets a client's ledger holds; values are stable identifiers."""

    HOST = "host"
    CLOUD_HOST = "cloud_host"
    NETWORK_DEVICE = "network_device"
    SECURITY_DEVICE = "security_device"
    DATABASE = "database"
    MIDDLEWARE = "middleware"
    WEB_APPLICATION = "web_application"


# Chinese labels as written in ledgers; the first label is the canonical one used on export,
# the others are accepted on import because real ledgers spell them differently.
ASSET_TYPE_LABELS: dict[AssetType, tuple[str, ...]] = {
    AssetType.HOST: ("主机", "服务器", "物理主机", "物理服务器", "终端"),
    AssetType.CLOUD_HOST: ("云主机", "虚拟机", "云服务器", "ECS"),
    AssetType.NETWORK_DEVICE: ("网络设备", "交换机", "路由器"),
    AssetType.SECURITY_DEVICE: ("安全设备", "防火墙", "WAF", "IPS", "IDS", "堡垒机"),
    AssetType.DATABASE: ("数据库",),
    AssetType.MIDDLEWARE: ("中间件",),
    AssetType.WEB_APPLICATION: ("Web应用", "Web应用/域名", "网站", "域名", "应用系统"),
}


def asset_type_label(kind: AssetType) -> str:
    """Canonical Chinese label of an asset type."""
    return ASSET_TYPE_LABELS[kind][0]


def parse_asset_type(text: str) -> AssetType | None:
    """Map a ledger cell (Chinese label or identifier, any case) to an AssetType."""
    cleaned = text.strip()
    lowered = cleaned.lower()
    for kind, labels in ASSET_TYPE_LABELS.items():
        if lowered == kind.value or any(lowered == label.lower() for label in labels):
            return kind
    return None
