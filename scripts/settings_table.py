"""Print the README's configuration table from ``Settings`` (paste between the markers)."""

from mscqa.config import Settings

print("| variable | default | meaning |")
print("|---|---|---|")
for name, field in Settings.model_fields.items():
    default = "" if field.default is None else str(field.default)
    if name == "web_dir":
        default = "web"
    print(f"| `MSCQA_{name.upper()}` | `{default}` | {field.description} |")
