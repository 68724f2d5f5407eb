"""The survey's own reactions to model events: a street image's file goes with its row.

An image row can disappear in many ways (the study builder, a re-imported package, the admin, a
deleted study cascading), and its file can be replaced; in every case the file no longer shown is
removed from storage once the transaction commits, so a rolled-back delete keeps its file."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_delete, pre_save
from django.dispatch import receiver

from .models import Image


def _remove_after_commit(storage, name: str) -> None:
    if name:
        transaction.on_commit(lambda: storage.delete(name))


@receiver(post_delete, sender=Image, dispatch_uid="surveys.image_file_deleted")
def image_file_deleted(sender, instance: Image, **kwargs) -> None:
    _remove_after_commit(instance.file.storage, instance.file.name)


@receiver(pre_save, sender=Image, dispatch_uid="surveys.image_file_replaced")
def image_file_replaced(sender, instance: Image, raw=False, **kwargs) -> None:
    if raw or instance.pk is None:
        return
    old = Image.objects.filter(pk=instance.pk).values_list("file", flat=True).first()
    if old and old != instance.file.name:
        _remove_after_commit(instance.file.storage, old)
