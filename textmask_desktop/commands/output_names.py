"""File names of ``textmask predict``'s PNG masks: one per image and prompt, never shared.

A mask's path inside the output folder mirrors its image's path below the deepest folder that
contains every input image, and the image's file name keeps its suffix, so ``a/x.jpg``,
``a/x.png`` and ``b/x.jpg`` get ``a/x.jpg__car.png``, ``a/x.png__car.png`` and
``b/x.jpg__car.png``. The names depend only on the set of inputs and prompts, not on their
order, so a rerun with the same inputs replaces the same files.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from textmask_desktop.commands.arguments import InputError

MAX_SLUG_LENGTH = 60
HASH_LENGTH = 8  # hex digits of SHA-256 that tell apart prompts with the same slug


@dataclass(frozen=True)
class MaskNames:
    """The output name parts of a run: a relative path per image and a slug per prompt."""

    image_paths: Mapping[Path, PurePosixPath]  # input path -> path below the common root
    prompt_slugs: Mapping[str, str]  # exact prompt -> its part of the file name

    def mask_path(self, image: Path, prompt: str) -> PurePosixPath:
        """Return the mask's path relative to the output folder, with "/" separators."""
        relative = self.image_paths[image]
        return relative.parent / f"{relative.name}__{self.prompt_slugs[prompt]}.png"


def plan_mask_names(images: Sequence[Path], prompts: Sequence[str]) -> MaskNames:
    """Name every mask of the run; raise InputError when two prompts would share a name."""
    return MaskNames(image_paths=relative_image_paths(images), prompt_slugs=prompt_slugs(prompts))


def common_root(images: Sequence[Path]) -> Path:
    """Return the deepest folder that contains every image, from their resolved paths.

    Raises ValueError when the images have no common folder (different Windows drives).
    """
    return Path(os.path.commonpath([str(image.resolve().parent) for image in images]))


def relative_image_paths(images: Sequence[Path]) -> dict[Path, PurePosixPath]:
    """Map each image to its resolved path below the common root of all of them."""
    try:
        root: Path | None = common_root(images)
    except ValueError:
        root = None
    paths = {}
    for image in images:
        resolved = image.resolve()
        if root is not None:
            paths[image] = PurePosixPath(resolved.relative_to(root).as_posix())
        else:
            # Images on several Windows drives: the drive letter becomes the first folder.
            drive = resolved.drive.strip(":\\/") or "root"
            paths[image] = PurePosixPath(drive, *resolved.parts[1:])
    return paths


def slugify(text: str) -> str:
    """Make a prompt safe as part of a file name: letters, digits, '-' and '_' only."""
    slug = re.sub(r"[^\w-]+", "_", text.strip().lower(), flags=re.UNICODE).strip("_")
    return slug[:MAX_SLUG_LENGTH] or "prompt"


def prompt_slugs(prompts: Sequence[str]) -> dict[str, str]:
    """Map each distinct prompt to a slug of its own.

    Prompts whose slugs are equal ("Car" and "car", "left/right" and "left_right") each get a
    hash of the exact prompt appended, which stays the same whatever the order of the prompts.
    """
    plain = {prompt: slugify(prompt) for prompt in prompts}
    uses = Counter(plain.values())
    slugs = {
        prompt: slug if uses[slug] == 1 else f"{slug}-{_short_hash(prompt)}"
        for prompt, slug in plain.items()
    }
    _check_unique(slugs)
    return slugs


def _short_hash(prompt: str) -> str:
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:HASH_LENGTH]


def _check_unique(slugs: Mapping[str, str]) -> None:
    """Reject the rare run where a prompt spells another prompt's slug and hash exactly."""
    owners: dict[str, str] = {}
    for prompt, slug in slugs.items():
        if slug in owners:
            raise InputError(
                f"prompts {owners[slug]!r} and {prompt!r} would both write masks named "
                f"'*__{slug}.png'; reword one of them"
            )
        owners[slug] = prompt
