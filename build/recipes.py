"""The recipes of our own networks: what each trains on, how long, and how it is judged.

Held-out evaluation always runs on scikit-image's photos, which no recipe trains on. The recipes are
declarations; what they name lives with the data of each kind of network: ``sr_data`` (pairs),
``restoration_evals`` (camera, JPEG, exposure and low-light conditions), ``refine``, ``assess`` / ``assess_data``,
``inpaint_data``, ``colorize_data``, ``damage_data`` and ``looks``.
"""

from __future__ import annotations

import torch

from lumaflow.build import degrade
from lumaflow.build.arch.assessor import Assessor, PhotoAssessor
from lumaflow.build.arch.colorize import Colorizer
from lumaflow.build.arch.damage import DamageNet
from lumaflow.build.arch.espcn import ESPCN
from lumaflow.build.arch.inpaint import GatedInpainter
from lumaflow.build.arch.lut import LookNet
from lumaflow.build.arch.residual import ResidualRestorer
from lumaflow.build.assess import evaluate_analysis, evaluate_quality
from lumaflow.build.assess_data import (
    AnalysisSampler,
    PhotoQualitySampler,
    QualitySampler,
    analysis_loss,
    quality_loss,
)
from lumaflow.build.colorize_data import (
    CHROMA_SHRINK,
    SEPIA_SHARE,
    ColorizeSampler,
    colorize_loss,
    evaluate_colorize,
)
from lumaflow.build.damage_data import DamageSampler, damage_loss, evaluate_damage
from lumaflow.build.inpaint_data import InpaintSampler, evaluate_inpaint, inpaint_loss
from lumaflow.build.looks import DISTINCT_CAP, DISTINCT_FLOOR, DISTINCT_WEIGHT, NEIGHBOURS, LooksSampler, looks_loss
from lumaflow.build.looks_eval import evaluate_looks
from lumaflow.build.refine import REFINE_SOURCES, evaluate_refine, refine_pairs
from lumaflow.build.restoration_evals import (
    evaluate_camera_x1,
    evaluate_camera_x2,
    evaluate_low_light,
    evaluate_sr_only,
)
from lumaflow.build.sr_data import scene_exposure_pairs
from lumaflow.build.training import FineTune, Recipe
from lumaflow.contract import ANALYSIS_SCALES
from lumaflow.ensemble.looks import TEMPLATE_NAMES

# --- recipes ----------------------------------------------------------------------------------------

ESPCN_X2_HP = {"scale": 2, "features": 32, "mid_features": 24, "num_body": 3}
# Narrower than espcn_x2 (1.9 against 4.7 GFLOP per 320x240 frame) for 30 fps on 2 cores. 16 features, not
# 24: ONNX Runtime's CPU convs work in blocks of 16 channels (NCHWc on AVX-512), so 24 ran as 32 and a
# 24-wide body cost as much as a 32-wide one; four 16-wide body convs trained 10k steps score as the
# three 24-wide did at 5k, at half the time a frame (docs/performance.md). LeakyReLU is a third faster than
# PReLU.
CAMERA_X2_HP = {"scale": 2, "features": 16, "mid_features": 16, "num_body": 4, "leaky": True}
SR_X4_HP = {"scale": 4, "features": 64, "mid_features": 48, "num_body": 6}
CAMERA_X1_HP = {"features": 32, "num_blocks": 6, "global_context": True, "curve_steps": 4}

RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe(
            name="espcn_x2",
            make_model=lambda: ESPCN(**ESPCN_X2_HP),
            factor=2,
            degradation="Pillow BICUBIC /2",
            evaluate=evaluate_sr_only,
            steps=10000,
            batch_size=16,
            patch=96,
        ),
        Recipe(
            name="sr_x4",
            make_model=lambda: ESPCN(**SR_X4_HP),
            factor=4,
            degradation="Pillow BICUBIC /4",
            evaluate=evaluate_sr_only,
            steps=3000,
            batch_size=16,
            patch=128,
            lr=1.5e-3,
        ),
        Recipe(
            name="camera_x2",
            make_model=lambda: ESPCN(**CAMERA_X2_HP),
            factor=2,
            degradation="Pillow BICUBIC /2; 2/3 of patches then get noise σ 0.5-4, half of those JPEG q 70-95",
            evaluate=evaluate_camera_x2,
            steps=10000,
            batch_size=16,
            patch=96,
            degrade=degrade.mild_camera,
        ),
        Recipe(
            name="camera_x1",
            make_model=lambda: ResidualRestorer(**CAMERA_X1_HP),
            factor=1,
            degradation="targets: each photo at -1, -0.5, 0, +0.5 EV (scene brightness); inputs: re-exposed -3..+1 EV"
            " in linear light with shot + read noise (30%: light noise only)",
            evaluate=evaluate_camera_x1,
            steps=2500,
            batch_size=8,
            patch=192,
            lr=1e-3,
            # Camera-frame sized sources (320x200 to 512x320): a 192 px patch's statistics are then
            # close to a whole frame's, which is what the curves see when served.
            scales=(0.125, 0.15, 0.2),
            degrade=degrade.random_exposure,
            make_pairs=scene_exposure_pairs,
        ),
    )
}


# --- refinement: trained on the outputs of the served SR stages ----------------------------------------

REFINE_HP = {"features": 32, "num_blocks": 4}

RECIPES["refine"] = Recipe(
    name="refine",
    make_model=lambda: ResidualRestorer(**REFINE_HP),
    factor=1,
    degradation="outputs of "
    + ", ".join(f"{name} (x{scale})" for name, scale in REFINE_SOURCES)
    + " on Pillow-bicubic-downscaled photos",
    evaluate=evaluate_refine,
    steps=2000,
    batch_size=16,
    patch=64,
    lr=5e-4,
    make_pairs=refine_pairs,
)


# --- the assessors: analysis and quality score --------------------------------------------------------

ANALYSIS_OUTPUTS = len(ANALYSIS_SCALES) + 3  # the measures, then the colour / grey / sepia logits
ASSESSOR_WIDTHS = (16, 32, 64, 96)

RECIPES["analysis"] = Recipe(
    name="analysis",
    make_model=lambda: Assessor(outputs=ANALYSIS_OUTPUTS, widths=ASSESSOR_WIDTHS),
    factor=1,
    degradation="per 64 px crop (flat crops kept 20% of the time), independently: grey 12% / sepia 10%,"
    " Gaussian blur σ 0.3-3 (30%), exposure"
    " -3..+1.5 EV (40%), noise σ 0-50 (60%, mono on grey/sepia), JPEG 4:2:0 q 8-95 (50%)",
    evaluate=evaluate_analysis,
    steps=4000,
    batch_size=32,
    patch=64,
    lr=1e-3,
    scales=(0.5, 0.33, 0.25),
    make_sampler=AnalysisSampler,
    loss=analysis_loss,
    loss_description="L1 of noise σ/50 and quality/100 + 2 x smooth L1 (β 0.5) of blur σ/3 and EV/3"
    " + 0.1 x cross-entropy of the tone",
)


def _photo_assessor(model: torch.nn.Module) -> torch.nn.Module:
    if not isinstance(model, Assessor):
        raise TypeError("the quality score's first phase trains an Assessor")
    return PhotoAssessor.from_crop_assessor(model)


RECIPES["quality"] = Recipe(
    name="quality",
    make_model=lambda: Assessor(outputs=1, widths=ASSESSOR_WIDTHS),
    factor=1,
    degradation="per 64 px crop (flat crops kept 20% of the time): 15% clean, else blur σ 0.3-4.5 (40%), bicubic"
    " down-up /1.5-4 (15%), unsharp"
    " haloes (10%), noise σ 1-50 (45%), JPEG q 5-95 (45%); target 100 x the product of (1 - impairment/100),"
    " impairments from calibrated curves (lumaflow.build.assess_data)",
    evaluate=evaluate_quality,
    steps=4000,
    batch_size=32,
    patch=64,
    lr=1e-3,
    scales=(0.5, 0.33, 0.25),
    make_sampler=QualitySampler,
    loss=quality_loss,
    loss_description="L1 of score / 100",
    # Per crop, a 64 px view cannot tell a soft scene from a blurred photo (blur σ 2.5 and 4 scored
    # alike, about 48); pooled over a photo's 25 crops it can (docs/quality.md).
    then=FineTune(
        description="6 photos a step, each a random window (256 px to the whole photo) cut into the served"
        " 5 x 5 grid of 64 px crops, every crop degraded by one draw (the same kinds and rates), one score",
        grow=_photo_assessor,
        make_sampler=PhotoQualitySampler,
        steps=800,
        batch_size=6,
        lr=1e-3,
        pretrained_lr=2e-4,
        loss=quality_loss,
    ),
)


# --- low light ------------------------------------------------------------------------------------------

LOW_LIGHT_HP = {"features": 32, "num_blocks": 6, "global_context": True, "curve_steps": 8, "range_statistics": True}

RECIPES["low_light"] = Recipe(
    name="low_light",
    make_model=lambda: ResidualRestorer(**LOW_LIGHT_HP),
    factor=1,
    degradation="target: the photo; input: 65% re-exposed -4..-1 EV in linear light with shot + read noise, 25%"
    " gamma 1.5-3.5 with noise σ 0.5-4, 10% untouched (noise σ <= 2)",
    evaluate=evaluate_low_light,
    steps=4000,
    batch_size=8,
    patch=192,
    lr=1e-3,
    # Whole-photo statistics drive the curves: small sources make a 192 px patch close to a whole photo.
    scales=(0.1, 0.125, 0.15, 0.2),
    degrade=degrade.random_low_light,
)


# --- inpainting -----------------------------------------------------------------------------------------

INPAINT_WIDTHS = (16, 32, 64)

RECIPES["inpaint"] = Recipe(
    name="inpaint",
    make_model=lambda: GatedInpainter(widths=INPAINT_WIDTHS),
    factor=1,
    degradation="free-form holes: 1-4 brush strokes (polylines of 2-5 segments, brush 4-24 px) per 96 px patch"
    " (flat patches kept 20% of the time); the network corrects OpenCV's Navier-Stokes fill (radius 5) of the patch",
    evaluate=evaluate_inpaint,
    # 5000: with the Navier-Stokes fill (12 ms a patch) 6000 would take 46 min here (2.2 steps/s), over the 45 allowed.
    steps=5000,
    batch_size=8,
    patch=96,
    lr=1e-3,
    scales=(0.5, 0.33, 0.25),
    make_sampler=InpaintSampler,
    loss=inpaint_loss,
    loss_description="L1 + 0.5 x (1 - SSIM, 7 px windows) (known pixels are copied, so all of it is the hole's)",
)


# --- colourisation --------------------------------------------------------------------------------------

# 16/24/32 (68 k parameters) rather than 32/64/96 (513 k): with 11 training photos the larger one only
# learns their colours by heart sooner (300-step probes: 18.85 against 20.04 dB held-out chroma PSNR).
COLORIZE_WIDTHS = (16, 24, 32)

RECIPES["colorize"] = Recipe(
    name="colorize",
    make_model=lambda: Colorizer(widths=COLORIZE_WIDTHS),
    factor=1,
    degradation=f"per 160 px crop (flat crops kept 50% of the time): grey (BT.601 luma), or with probability"
    f" {SEPIA_SHARE:g} sepia-toned at strength 0.6-1, then an exposure gain of 0.67-1.49x; target the colour crop",
    evaluate=evaluate_colorize,
    steps=800,  # held-out chroma PSNR 22.57 dB; 300 steps gave 21.41, 2 000 gave 22.32 (docs/training.md)
    batch_size=16,
    patch=160,
    lr=1e-3,
    # A 160 px crop of a 2560 px wallpaper at 1/8 to 1/5 shows much of the scene, about what a held-out
    # photo (300-640 px) shows whole: the scene's colour is learnt from context at the served size.
    scales=(0.125, 0.15, 0.2),
    make_sampler=ColorizeSampler,
    loss=colorize_loss,
    loss_description=f"MSE of the BT.601 chroma planes (Cb, Cr) against {CHROMA_SHRINK:g} x the photo's (shrunk"
    " towards grey: 11 photos make an uncertain estimate); luma is copied from the input",
)


# --- old-photo damage -----------------------------------------------------------------------------------

DAMAGE_WIDTHS = (16, 32, 48)

RECIPES["damage"] = Recipe(
    name="damage",
    make_model=lambda: DamageNet(widths=DAMAGE_WIDTHS),
    factor=1,
    degradation="per 128 px crop: aged (grey 35% / sepia 35% / faded colour 30%, blur, paper mottle, grain; not"
    " marked), then each of scratches, dust, creases, tears with probability 0.6 at amount 0.5-2 (10% of crops"
    " undamaged); target the mask of visibly changed pixels (lumaflow.build.damage_data)",
    evaluate=evaluate_damage,
    # Chosen from four GPU runs (docs/quality.md): 2000 steps of batch 8 or 12 reached mean IoU 0.57-0.63, 4000 of
    # batch 12 at lr 2e-3 0.70, at 3e-3 0.73. That took 308 s on a GPU; on the idle 2-core CPU (2 threads) it runs at
    # 0.605 s a step: about 40 min, inside the 45 min budget (2.4 s a step when three trainings shared the cores).
    steps=4000,
    batch_size=12,
    patch=128,
    lr=3e-3,
    scales=(0.33, 0.25, 0.2),
    make_sampler=DamageSampler,
    loss=damage_loss,
    loss_description="BCE + soft Dice (over the batch) of the damage probability",
)


# --- looks (stylize templates) -------------------------------------------------------------------------

LOOKS_HP = {"templates": len(TEMPLATE_NAMES), "basis": 4, "size": 17, "width": 16}

RECIPES["looks"] = Recipe(
    name="looks",
    make_model=lambda: LookNet(**LOOKS_HP),
    factor=1,
    degradation="input: a random crop, treated as a whole photo, twice; targets: that crop graded by a random one of"
    f" the {len(TEMPLATE_NAMES)} looks and by a second, most often one of its {NEIGHBOURS} nearest (on the photos"
    " and their colourful, bright and dark versions) (lumaflow.build.gradings: adaptive white balance / levels /"
    " exposure, then the look's colour work), strength 1",
    evaluate=evaluate_looks,
    steps=12000,
    batch_size=16,
    patch=128,
    lr=2e-3,
    # Small sources (256 to 512 px on the long side): a 128 px crop then holds much of a photo, as the thumbnail does
    # when served. All the train photos, not only the wallpapers: the still lifes bring the saturated colour the
    # wallpapers lack (the network merged looks on the most colourful validation photos).
    long_sides=(256, 384, 512),
    make_sampler=LooksSampler,
    loss=looks_loss,
    loss_description=f"L1 (RGB) + {DISTINCT_WEIGHT:g} x the mean shortfall of each pair of looks on a crop from its"
    f" gradings' ΔE76, held within {DISTINCT_FLOOR:g} to {DISTINCT_CAP:g}",
)
