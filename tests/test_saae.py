"""SAAE (style transfer): each network gets exactly its objective in each step of the three-step
schedule, D is a (k+1)-class softmax classifier (generated = class k+1) or binary, G is pushed to
make D read its output as the CONTENT's class, the schedule survives a checkpoint round trip, and
styled batches pair every image with another class's image of its own style group."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cvaegan.core.arch import ModelConfig
from cvaegan.core.updates import apply_updates
from cvaegan.families import registry
from cvaegan.families.saae.config import GENERATOR, SAAEConfig, SAAELossConfig, from_preset
from cvaegan.families.saae.model import SAAE
from cvaegan.families.saae.step import make_optimizers, saae_losses, train_step

K = 4


def _setup(seed: int = 0, loss: SAAELossConfig | None = None):
    torch.manual_seed(seed)
    m = SAAE(SAAEConfig(ModelConfig(num_classes=K, resolution=32, width=0.125, latent_dim=8, model="saae"),
                        loss or SAAELossConfig()))
    g = torch.Generator().manual_seed(seed)
    m.set_contents(torch.rand(K, 3, 32, 32, generator=g) * 2 - 1)
    x = torch.rand(6, 3, 32, 32, generator=g) * 2 - 1
    s = torch.rand(6, 3, 32, 32, generator=g) * 2 - 1
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    return m, x, y, s


def _grads(loss, params):
    gs = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, gs)]


def _check_routing(m, step, want):
    apply_updates(m, {}, step.objectives)
    for name, net in m.nets.items():
        for (pname, p), w in zip(net.named_parameters(), want[name]):
            got = torch.zeros_like(p) if p.grad is None else p.grad
            assert torch.allclose(got, w, atol=1e-6, rtol=1e-4), f"{name}.{pname}"


@pytest.mark.parametrize("stage", [1, 2, 3])
def test_each_network_gets_exactly_its_objective_in_each_stage(stage):
    m, x, y, s = _setup()
    lam = m.cfg.loss
    step = saae_losses(m, x, y, s, stage)
    t = step.terms
    g_obj = {1: lam.lambda_rec * t["loss_rec"], 2: None, 3: lam.lambda_rec * t["loss_rec"] + lam.lambda_adv * t["loss_adv"]}[stage]
    d_obj = t["loss_d"] if stage >= 2 else None
    want = {}
    for name, net in m.nets.items():
        obj = d_obj if name == "D" else g_obj
        params = list(net.parameters())
        want[name] = _grads(obj, params) if obj is not None else [torch.zeros_like(p) for p in params]
    _check_routing(m, step, want)
    moved = {n for n, net in m.nets.items() if any(p.grad is not None and p.grad.any() for p in net.parameters())}
    assert moved == {1: {"Ec", "Es", "Dec"}, 2: {"D"}, 3: {"Ec", "Es", "Dec", "D"}}[stage]


def test_schedule_stages_and_joint_preset():
    lam = SAAELossConfig(recon_steps=3, d_steps=2)
    assert [lam.stage(i) for i in range(7)] == [1, 1, 1, 2, 2, 3, 3]
    joint, _ = from_preset("joint")
    assert joint.stage(0) == 3
    with pytest.raises(ValueError, match="recon_steps"):
        SAAELossConfig(recon_steps=-1)
    assert SAAELossConfig(recon_steps=5.0).recon_steps == 5  # --set parses numbers as floats


def test_multiclass_d_uses_class_k_plus_one_for_generated_and_content_class_for_g():
    m, x, y, s = _setup()
    step = saae_losses(m, x, y, s, 3)
    logit_r, _ = m.D(x)
    x_hat = m.Dec(m.Ec(m.contents[y]), m.Es(s))
    logit_f, _ = m.D(x_hat)
    assert logit_r.shape == (6, K + 1)
    want_d = F.cross_entropy(logit_r, y) + F.cross_entropy(logit_f, torch.full_like(y, K))
    assert torch.allclose(step.terms["loss_d"], want_d, atol=1e-5)
    assert torch.allclose(step.terms["loss_adv"], F.cross_entropy(logit_f, y), atol=1e-5)
    # G's adversarial target is the content's class, not "generated": a G that D reads as class y
    # has lower L_adv than one D reads as generated
    assert not torch.allclose(step.terms["loss_adv"], F.cross_entropy(logit_f, torch.full_like(y, K)))


def test_binary_d_has_one_logit():
    m, x, y, s = _setup(loss=SAAELossConfig(discriminator="binary"))
    step = saae_losses(m, x, y, s, 3)
    logit_f, _ = m.D(m.Dec(m.Ec(m.contents[y]), m.Es(s)))
    assert logit_f.shape == (6, 1)
    assert torch.allclose(step.terms["loss_adv"], F.softplus(-logit_f).mean(), atol=1e-6)


def test_reconstruction_is_half_squared_error_summed_over_pixels():
    m, x, y, s = _setup()
    step = saae_losses(m, x, y, s, 1)
    with torch.no_grad():
        x_hat = m.Dec(m.Ec(m.contents[y]), m.Es(s))
    assert torch.allclose(step.terms["loss_rec"], 0.5 * (x - x_hat).pow(2).flatten(1).sum(1).mean(), rtol=1e-4)


def test_the_output_depends_on_content_and_on_style():
    m, x, y, s = _setup()
    a = m.stylize_class(y, s)
    assert not torch.allclose(a, m.stylize_class((y + 1) % K, s))      # another content
    assert not torch.allclose(a, m.stylize_class(y, s.flip(0)))        # another style


def test_schedule_and_contents_survive_a_checkpoint_round_trip():
    lam = SAAELossConfig(recon_steps=2, d_steps=1)
    m, x, y, s = _setup(loss=lam)
    opt = make_optimizers(m)
    for _ in range(3):
        logs = train_step(m, opt, x, y, s)
    assert m.step == 3 and int(m.steps_done) == 3 and float(logs["stage"]) == 2.0
    m2 = SAAE(m.cfg)
    m2.load_state_dict(m.state_dict())
    assert m2.step == 3 and torch.equal(m2.contents, m.contents)
    assert m2.cfg.loss.stage(m2.step) == 3


def test_saae_is_registered_with_a_styled_batch_and_stylize_only():
    fam, spec = registry.resolve("saae")
    assert fam.batch == "styled" and spec.capabilities == {"stylize"}
    assert set(spec.networks) == {"Ec", "Es", "Dec", "D"}
    assert spec.phases[0].objectives == ("D", GENERATOR)


def _styled_cache(tmp_path, styles, labels, reference=None):
    import json

    from PIL import Image

    from cvaegan.data.dataset import build_cache
    items = []
    for i, (st, lab) in enumerate(zip(styles, labels)):
        f = f"c{lab}/{i}.png"
        (tmp_path / f"c{lab}").mkdir(exist_ok=True)
        Image.fromarray(np.full((8, 8, 3), 10 * i, np.uint8)).save(tmp_path / f)
        items.append({"file": f, "class": lab, **({"style": st} if st is not None else {})})
    classes = [{"index": k, "name": f"c{k}", "folder": f"c{k}"} for k in range(max(labels) + 1)]
    man = {"format": "cvaegan-dataset", "version": 1, "kind": "folder", "classes": classes, "items": items}
    if reference is not None:
        man["styles"] = {"name": "font", "reference": reference}
    (tmp_path / "dataset.json").write_text(json.dumps(man))
    return build_cache(tmp_path, 32, cache_dir=tmp_path / ".cache")


def test_style_partners_share_the_style_group_and_show_another_class(tmp_path):
    from cvaegan.data.dataset import DeviceBatches
    styles = ["a", "a", "a", "b", "b", "b", "c"]
    labels = [0, 1, 2, 0, 1, 2, 0]
    cache = _styled_cache(tmp_path, styles, labels)
    batches = DeviceBatches(cache, 7, torch.device("cpu"), styled=True, flip=False)
    order = torch.randperm(7, generator=torch.Generator().manual_seed(0))
    for i in range(1):
        idx, part = batches.indices(order, i).numpy(), batches.style_partners(order, i).numpy()
        for a, b in zip(idx, part):
            assert cache.styles[a] == cache.styles[b]
            if styles[a] != "c":  # group c has one image: its own partner
                assert cache.labels[a] != cache.labels[b]
            else:
                assert a == b
        again = batches.style_partners(order, i).numpy()
        assert (again == part).all()  # seeded by the epoch order and the batch: a resume redraws them


def test_content_items_take_the_reference_style(tmp_path):
    from cvaegan.data.dataset import content_items
    cache = _styled_cache(tmp_path, ["a", "b", "a", "b"], [0, 0, 1, 1], reference="b")
    got = content_items(cache)
    assert [cache.style_names[cache.styles[i]] for i in got] == ["b", "b"]
    assert [int(cache.labels[i]) for i in got] == [0, 1]


def test_training_never_mirrors_a_flip_false_dataset(tmp_path, monkeypatch):
    """`"flip": false` in the manifest (characters) turns the loader's random flip off, even though
    `--flip` is on by default; the model's content images are the reference style's."""
    import json

    from cvaegan.pipelines import train as T
    (tmp_path / "d").mkdir()
    cache = _styled_cache(tmp_path / "d", ["a", "b", "a", "b"], [0, 0, 1, 1], reference="b")
    man = json.loads((tmp_path / "d" / "dataset.json").read_text())
    man["flip"] = False
    (tmp_path / "d" / "dataset.json").write_text(json.dumps(man))
    seen = {}
    real = T.DeviceBatches

    def spy(*a, **kw):
        seen.update(kw)
        return real(*a, **kw)

    monkeypatch.setattr(T, "DeviceBatches", spy)
    res = T.train(T.TrainOptions(data=tmp_path / "d", out=tmp_path / "runs", name="r", model="saae", resolution=32,
                                 width=0.125, latent_dim=8, batch_size=4, steps=1, device="cpu", workers=0,
                                 cache_dir=tmp_path / "cache", sample_every=10, ckpt_every=10, precision="fp32"))
    assert seen["flip"] is False and seen["styled"] is True
    from cvaegan.session import open_session
    contents = open_session(res.checkpoint, device="cpu", precision="fp32").model.contents
    assert torch.equal(contents[0], T.cache_images(cache, np.array([1]))[0])  # class 0 in style "b"
