"""The agent iFrame's key: added empty, filled with a distinct random key per existing
profile, then made unique with a generated default for new ones."""

from django.db import migrations, models

import streaming.profiles.keys


def fill_embed_keys(apps, schema_editor) -> None:
    StreamingProfile = apps.get_model("streaming", "StreamingProfile")
    for profile in StreamingProfile.objects.filter(embed_key="").only("pk"):
        StreamingProfile.objects.filter(pk=profile.pk).update(
            embed_key=streaming.profiles.keys.embed_key_generate()
        )


class Migration(migrations.Migration):
    dependencies = [("streaming", "0003_transcripts")]

    operations = [
        migrations.AddField(
            model_name="streamingprofile",
            name="embed_key",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(fill_embed_keys, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="streamingprofile",
            name="embed_key",
            field=models.CharField(
                default=streaming.profiles.keys.embed_key_generate,
                editable=False,
                help_text="Key of the agent iFrame URL (/client) for this profile's calls.",
                max_length=64,
                unique=True,
            ),
        ),
    ]
