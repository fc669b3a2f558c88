"""The Foundations tab: the optimiser lab's rules against torch.optim, its races, and the tab through gradio_client."""
from __future__ import annotations

import pytest
import torch

from lab.optim import OPTIMISERS, SURFACES, _State, race, race_picture, update

TORCH = {"SGD": (torch.optim.SGD, {}), "Momentum": (torch.optim.SGD, {"momentum": 0.9}),
         "Nesterov": (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}), "AdaGrad": (torch.optim.Adagrad, {}),
         "RMSProp": (torch.optim.RMSprop, {}), "Adam": (torch.optim.Adam, {}), "AdamW": (torch.optim.AdamW, {})}


@pytest.mark.parametrize("name", OPTIMISERS)
def test_each_rule_steps_as_torch_optim_does(name):
    """30 steps on a curved loss of one tensor: the written-out rule and torch.optim's implementation agree."""
    cls, kw = TORCH[name]
    w = torch.tensor([1.5, -0.7], dtype=torch.float64, requires_grad=True)
    opt, p, state = cls([w], lr=0.05, **kw), w.detach().clone(), _State()
    for _ in range(30):
        opt.zero_grad()
        (3 * w[0] ** 2 + 2 * torch.sin(w[1]) + w[0] * w[1]).backward()
        g = w.grad.clone()
        opt.step()
        p = update(name, p, g, state, 0.05)
    assert torch.allclose(p, w.detach(), atol=1e-12, rtol=0), (p, w)


def test_a_race_shows_what_the_notes_say():
    *_, end = race("ill-conditioned quadratic", {"SGD": 0.4, "Momentum": 0.04, "Adam": 0.3}, steps=100, every=100)
    assert all(len(path) == 101 for path in end.paths.values())
    assert all(f < 1e-3 for f in (ls[-1] for ls in end.losses.values()))  # all three reach the minimum
    *_, slow = race("ill-conditioned quadratic", {"SGD": 0.4}, steps=20, every=20)
    x, y = slow.paths["SGD"][-1]
    assert abs(y) < 1e-3 < abs(x)  # the steep y settles at once, the shallow x is still on its way (d2l 11.3)
    *_, wild = race("Rosenbrock", {"SGD": 0.01, "Adam": 0.05}, steps=50, every=50)
    assert wild.stopped == {"SGD": wild.stopped["SGD"]} and wild.stopped["SGD"].startswith("diverged at step")
    assert len(wild.paths["Adam"]) == 51
    picture = race_picture(wild)
    assert picture.size[0] > 800 and picture.size[1] >= 440


def test_warm_up_and_noise():
    surf = SURFACES["ill-conditioned quadratic"]
    (first,) = [r for r in race("ill-conditioned quadratic", {"SGD": 0.1}, steps=20, warmup=10, every=1)][:1]
    x0, y0 = surf.start
    (x1, y1) = first.paths["SGD"][1]
    assert (x1 - x0) == pytest.approx(-0.1 / 10 * 0.2 * x0)  # step 1 of 10 of the warm-up: a tenth of the rate
    a = [list(r.paths["Adam"][-1]) for r in race("noisy quadratic", {"Adam": 0.3}, steps=30, seed=1, every=30)]
    b = [list(r.paths["Adam"][-1]) for r in race("noisy quadratic", {"Adam": 0.3}, steps=30, seed=1, every=30)]
    c = [list(r.paths["Adam"][-1]) for r in race("noisy quadratic", {"Adam": 0.3}, steps=30, seed=2, every=30)]
    assert a == b != c  # the seed fixes the noise
    with pytest.raises(ValueError, match="unknown surface"):
        next(race("moon", {"SGD": 0.1}))


@pytest.mark.parametrize("side,k,padding,stride", [(3, 2, 0, 1), (8, 3, 1, 1), (8, 3, 0, 2), (7, 2, 2, 3),
                                                    (5, 5, 0, 1), (6, 1, 3, 4)])
def test_the_convolution_explorer_agrees_with_torch(side, k, padding, stride):
    import torch.nn.functional as F

    from lab.conv import correlate, output_side, pool, torch_pool

    g = torch.Generator().manual_seed(side * 10 + k)
    x = torch.randint(-5, 6, (2, side, side), generator=g).double()
    kern = torch.randint(-2, 3, (2, k, k), generator=g).double()
    result = correlate(x, kern, padding, stride)
    reference = F.conv2d(x[None], kern[None], padding=padding, stride=stride)[0, 0]
    assert result["output"].shape == reference.shape == (output_side(side, k, padding, stride),) * 2
    assert torch.equal(result["output"], reference) and result["agrees"]
    for mode in ("max", "avg"):
        if 2 * padding <= k:
            assert torch.allclose(pool(x, k, padding, stride, mode), torch_pool(x, k, padding, stride, mode))


def test_the_convolution_explorer_shows_the_notes_numbers_and_refuses_bad_grids():
    from common.errors import UserError
    from lab.conv import correlate, parse_grid, pool

    x, k = parse_grid("0 1 2; 3 4 5; 6 7 8", "Input"), parse_grid("0 1; 2 3", "Kernel")
    result = correlate(x, k, 0, 1)
    assert result["output"].tolist() == [[19, 25], [37, 43]]  # d2l 6.2
    assert result["sums"][0] == "Y[0,0] = 0·0 + 1·1 + 3·2 + 4·3 = 19"
    two = correlate(parse_grid("0 1 2; 3 4 5; 6 7 8 | 1 2 3; 4 5 6; 7 8 9", "Input"),
                    parse_grid("0 1; 2 3 | 1 2; 3 4", "Kernel"), 0, 1)
    assert two["output"].tolist() == [[56, 72], [104, 120]]  # d2l 6.4: summed over the channels
    assert pool(x, 2, 0, 1, "max").tolist() == [[[4, 5], [7, 8]]] and \
        pool(x, 2, 0, 1, "avg").tolist() == [[[2, 3], [5, 6]]]  # d2l 6.5
    for text, message in [("1 2; 3", "same number of values"), ("1 x", "only numbers"), ("", "same number"),
                          (" ".join(["1"] * 13), "at most 12x12")]:
        with pytest.raises(UserError, match=message):
            parse_grid(text, "Input")
    with pytest.raises(UserError, match="one slice per input channel"):
        correlate(x, parse_grid("1 | 2", "Kernel"), 0, 1)
    with pytest.raises(UserError, match="larger than the padded input"):
        correlate(x, parse_grid("1 1 1 1; 1 1 1 1; 1 1 1 1; 1 1 1 1", "Kernel"), 0, 1)


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu"])
def test_backprop_by_hand_matches_autograd_and_the_check_catches_each_planted_bug(act):
    from lab.backprop import BUGS, PASS, forward_backward, grad_check, init_params, loss_of, torch_input

    params, x = init_params(0), torch_input(1.0, -2.0)  # (one hidden unit below 0: ReLU's derivative matters)
    rows = grad_check(params, x, 0.5, act)
    assert len(rows) == 13 and all(r[5] == "✓" and r[4] < PASS for r in rows)  # 3x2 + 3 + 1x3 + 1 entries
    assert all(abs(r[1] - r[3]) < 1e-12 for r in rows)  # by hand = autograd
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    loss_of(leaves, x, 0.5, act).backward()
    assert float(forward_backward(params, x, 0.5, act)["values"]["L"]) == pytest.approx(float(loss_of(params, x, 0.5,
                                                                                                     act)))
    for bug in BUGS:
        if bug == "none":
            continue
        caught = [r[0] for r in grad_check(params, x, 0.5, act, bug) if r[5] == "✗"]
        assert caught, bug  # every planted mistake shows up
        if bug == "W2 gradient without h":
            assert {c.split("[")[0] for c in caught} == {"W2"}
        if bug == "b1 gradient doubled":
            assert {c.split("[")[0] for c in caught} == {"b1"}


def test_the_tab_streams_a_race_and_says_what_is_wrong(tab):
    from gradio_client.exceptions import AppError

    client, _ = tab
    lrs = {f"lr_{n.lower()}": v for n, v in SURFACES["saddle"].lrs.items()}
    job = client.submit(surface="saddle", steps=200, schedule="cosine", warmup=10, seed=0,
                        chosen=["SGD", "Adam"], api_name="/foundations_optimisers", **lrs)
    updates = list(job)
    assert len(updates) >= 2  # it streams
    picture, status, table = updates[-1]
    assert picture and "Step 200 / 200" in status and "saddle point" in status
    rows = table["data"] if isinstance(table, dict) else table
    assert [r[0] for r in rows] == ["SGD", "Adam"] and all(r[5] == "done" for r in rows)
    with pytest.raises(AppError, match="Pick at least one optimiser"):
        client.predict(surface="saddle", steps=50, schedule="constant", warmup=0, seed=0, chosen=[],
                       api_name="/foundations_optimisers", **lrs)
    with pytest.raises(AppError, match="Warm-up must be"):
        client.predict(surface="saddle", steps=50, schedule="constant", warmup=50, seed=0, chosen=["SGD"],
                       api_name="/foundations_optimisers", **lrs)


def test_the_convolution_tab_computes_and_filters_a_photo(tab):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    from webui.foundations import PHOTOS

    client, _ = tab
    picture, sums, sizes = client.predict(grid="0 1 2; 3 4 5; 6 7 8", kernel="0 1; 2 3", padding=1, stride=2,
                                          pool_size=2, pool_stride=1, pool_padding=0, pool_mode="avg",
                                          api_name="/foundations_convolution")
    assert picture and sums.startswith("Y[0,0] = 0·0 + 0·1 + 0·2 + 0·3 = 0")
    assert "= **2** rows" in sizes and "torch gives 2 x 2 ✓" in sizes and "the same numbers as torch ✓" in sizes
    with pytest.raises(AppError, match="every row needs the same number"):
        client.predict(grid="1 2; 3", kernel="1", padding=0, stride=1, pool_size=1, pool_stride=1, pool_padding=0,
                       pool_mode="max", api_name="/foundations_convolution")
    grey, filtered, size = client.predict(image=handle_file(PHOTOS[0]), kernel="vertical edges", padding=0,
                                          stride=2, api_name="/foundations_kernel")
    assert grey and filtered and "3x3 kernel" in size and "✓" in size
    with pytest.raises(AppError, match="Upload a photo"):
        client.predict(image=None, kernel="blur (box 3x3)", padding=1, stride=1, api_name="/foundations_kernel")


def test_the_backprop_tab_draws_the_graph_and_finds_the_bug(tab):
    client, _ = tab
    graph, verdict, table = client.predict(x1=1.0, x2=-2.0, target=0.5, activation="tanh", seed=0, bug="none",
                                           eps=1e-6, api_name="/foundations_backprop")
    rows = table["data"] if isinstance(table, dict) else table
    assert graph and verdict.startswith("All 13 gradients agree") and all(r[5] == "✓" for r in rows)
    _, verdict, _ = client.predict(x1=1.0, x2=-2.0, target=0.5, activation="tanh", seed=0,
                                   bug="activation derivative forgotten", eps=1e-6, api_name="/foundations_backprop")
    assert "gradients disagree" in verdict and "W1[0, 0]" in verdict and "b2" not in verdict


# ------------------------------------------------------------------------------------------- the 2-D playground
def test_knn_votes_as_scikit_learn_does():
    from sklearn.neighbors import KNeighborsClassifier

    from lab.playground import knn_predict, make_data

    x, y = make_data("moons", 300, 0.3, 0)
    q, _ = make_data("moons", 200, 0.5, 1)
    ours = knn_predict(x, y, q, 7, 2).argmax(1)
    theirs = KNeighborsClassifier(7).fit(x.numpy(), y.numpy()).predict(q.numpy())
    assert (ours.numpy() == theirs).all()


def test_hinge_loss_and_its_gradient_by_hand():
    from lab.playground import hinge_loss

    s = torch.tensor([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]], requires_grad=True)
    y = torch.tensor([0, 1, 2])
    loss = hinge_loss(s, y)
    assert float(loss) == pytest.approx((2.9 + 0 + 12.9) / 3, abs=1e-5)  # CS231n's worked example
    loss.backward()
    by_hand = torch.zeros(3, 3)
    for i in range(3):  # each violated margin: +1 for the wrong class, -1 for the right one
        for j in range(3):
            if j != y[i] and float(s[i, j] - s[i, y[i]] + 1) > 0:
                by_hand[i, j] += 1 / 3
                by_hand[i, y[i]] -= 1 / 3
    assert torch.allclose(s.grad, by_hand)


def test_softmax_regression_matches_scikit_learn_and_the_mlp_bends_where_it_cannot():
    from sklearn.linear_model import LogisticRegression

    from lab.playground import Knobs, split_data, train

    knobs = Knobs(dataset="linear with outliers", points=600, model="softmax regression", optimiser="Adam", lr=0.05,
                  steps=800, seed=0)
    ours = list(train(knobs, every=800))[-1]
    tx, ty, vx, vy = split_data(knobs)
    sk = LogisticRegression().fit(tx.numpy(), ty.numpy())
    assert ours.val_acc == pytest.approx(sk.score(vx.numpy(), vy.numpy()), abs=0.03)
    linear = list(train(Knobs(dataset="circles", model="softmax regression", steps=300), every=300))[-1]
    mlp = list(train(Knobs(dataset="circles", model="MLP", optimiser="Adam", lr=0.03, steps=600), every=600))[-1]
    assert linear.val_acc < 0.75 < 0.95 < mlp.val_acc  # a straight line cannot draw a circle


def test_initialisation_and_depth_show_in_the_gradients():
    from lab.playground import Knobs, build_model, train

    deep = Knobs(dataset="circles", layers=6, activation="sigmoid", init="small normal (σ 0.01)", steps=20)
    norms = list(train(deep, every=20))[-1].grad_norms
    assert norms["layer 1"][-1][1] < 1e-6 * norms["layer 7"][-1][1]  # vanishing, layer by layer
    he = list(train(Knobs(dataset="circles", layers=6, activation="ReLU", init="He", steps=20), every=20))[-1]
    assert he.grad_norms["layer 1"][-1][1] > 1e-3 * he.grad_norms["layer 7"][-1][1]
    zeros = Knobs(dataset="moons", init="zeros", steps=50)
    net = build_model(zeros, 2)
    assert all(float(m.weight.abs().sum()) == 0 for m in net if isinstance(m, torch.nn.Linear))
    frame = list(train(zeros, every=50))[-1]
    assert len(set(frame.weights["layer 2"])) == 1  # symmetry never broken: every hidden unit the same


def test_early_stopping_and_bad_knobs():
    from common.errors import UserError
    from lab.playground import Knobs, train

    threads = torch.get_num_threads()
    frames = list(train(Knobs(dataset="moons", points=60, noise=1.0, layers=4, width=64, optimiser="Adam", lr=0.05,
                              steps=3000, patience=5), every=10))
    assert torch.get_num_threads() == threads  # (one intra-op thread while it computes, then as it was)
    assert frames[-1].stopped.startswith("early stopping") and frames[-1].step < 3000
    for bad, message in [({"model": "forest"}, "Pick a model"), ({"layers": 20}, "Hidden layers"),
                         ({"lr": 0}, "Learning rate"), ({"dataset": "moon"}, "Pick a dataset")]:
        with pytest.raises(UserError, match=message):
            list(train(Knobs(**bad)))


def test_a_paused_session_goes_on_as_if_never_paused():
    from lab.playground import Knobs, Session, train

    knobs = Knobs(dataset="spirals", points=200, optimiser="Adam", lr=0.03, steps=300, dropout=0.1, seed=3)
    straight = list(train(knobs, every=100))[-1]
    session = Session(knobs)
    for _ in range(3):  # Pause and Step between frames: the generator and the optimiser keep their state
        frame = session.advance(100)
    assert frame.step == 300 and frame.train_loss == straight.train_loss and frame.val_acc == straight.val_acc
    assert session.done and session.continues(Knobs(**{**vars(knobs), "steps": 600, "lr": 0.01}))
    assert not session.continues(Knobs(**{**vars(knobs), "width": 9}))
    session.retune(Knobs(**{**vars(knobs), "steps": 600, "lr": 0.01}))
    assert not session.done and session.opt.param_groups[0]["lr"] == 0.01


def test_a_saved_session_loads_as_it_was_and_a_hostile_one_is_refused(tmp_path):
    from safetensors.torch import load_file, save_file

    from common.errors import UserError
    from lab.playground import Knobs, Session

    session = Session(Knobs(dataset="blobs", points=120, steps=60, optimiser="Adam", lr=0.05))
    session.advance(60)
    session.save(tmp_path / "ok")
    back = Session.load(tmp_path / "ok")
    a, b = session.frame(), back.frame()
    assert torch.equal(a.probs, b.probs) and a.train_loss == b.train_loss and back.step == 60
    for key, value in [("data.train_y", torch.full((84,), 50)), ("data.train_x", torch.zeros(84, 3)),
                       ("data.val_x", torch.zeros(5000, 2))]:
        folder = tmp_path / key
        folder.mkdir()
        (folder / "config.json").write_text((tmp_path / "ok" / "config.json").read_text())
        save_file({**load_file(str(tmp_path / "ok" / "model.safetensors")), key: value},
                  str(folder / "model.safetensors"))
        with pytest.raises(UserError, match="not a 2-D playground model"):
            Session.load(folder)


def test_user_csv_points(tmp_path):
    from common.errors import UserError
    from lab.playground import Knobs, read_points, split_data, train
    from lab.regression import split

    good = tmp_path / "points.csv"
    rows = [(i * 10.0, (i % 7) * 5.0, "cat" if i % 2 else "dog") for i in range(40)]
    good.write_text("x,y,label\n" + "\n".join(f"{a},{b},{c}" for a, b, c in rows))
    x, y, names = read_points(str(good))
    assert names == ["cat", "dog"] and len(x) == 40 and float(x.abs().max()) == pytest.approx(2.5)
    assert y.tolist() == [1 if c == "dog" else 0 for *_, c in rows]
    knobs = Knobs(dataset="your CSV", csv=str(good), steps=50)
    tx, _, vx, _ = split_data(knobs)
    assert len(tx) + len(vx) == 40
    assert list(train(knobs, every=50))[-1].step == 50
    for text, message in [("1,2,a\n3,x,b\n", "Row 2"), ("1,2\n" * 20, "each row needs x, y, label"),
                          ("1,2,a\n" * 20, "1 labels"), ("1,2,a\n3,4,b\n", "2 rows"),
                          ("1,nan,a\n" * 12, "finite")]:
        bad = tmp_path / "bad.csv"
        bad.write_text(text)
        with pytest.raises(UserError, match=message):
            read_points(str(bad))
    (tmp_path / "points.png").write_bytes(b"\x89PNG")
    with pytest.raises(UserError, match="Upload a .csv"):
        read_points(str(tmp_path / "points.png"))
    with pytest.raises(UserError, match="Upload a CSV"):
        list(train(Knobs(dataset="your CSV")))
    line = tmp_path / "line.csv"
    line.write_text("\n".join(f"{100 + i},{3 * i + 1}" for i in range(30)))
    data = split("your CSV", 0, 0, 0, csv=str(line))
    assert len(data.x) + len(data.vx) == 30 and float(data.x.abs().max()) <= 1


def test_the_playground_tab_streams_pauses_steps_pushes_and_pulls(tab, hub_server, repo_name, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    client, _ = tab
    values = dict(dataset="XOR", points=100, noise=0.1, val_fraction=0.3, seed=0, model="MLP", layers=2, width=8,
                  activation="tanh", init="Xavier", k=5, optimiser="Adam", lr=0.05, batch_size=32, steps=100, l1=0,
                  l2=0, dropout=0, batch_norm=True, patience=0, csv=None)
    updates = list(client.submit(**values, api_name="/foundations_playground"))
    assert len(updates) >= 2
    picture, status = updates[-1][:2]
    assert picture and "Step 100 / 100" in status
    # Step goes on from where the session stands once the run is longer; a changed architecture starts over.
    _, status, *_ = client.predict(**{**values, "steps": 200}, api_name="/foundations_playground_step")
    assert "Step 102 / 200" in status
    with pytest.raises(AppError, match="has done its 100 steps: raise Steps"):
        client.predict(**values, api_name="/foundations_playground_step")
    _, status, *_ = client.predict(**{**values, "steps": 200, "width": 4}, api_name="/foundations_playground_step")
    assert "Step 2 / 200" in status
    _, status, *_ = client.predict(**{**values, "model": "kNN", "k": 3}, api_name="/foundations_playground")
    assert status.startswith("k = 3: train accuracy")
    points = tmp_path / "points.csv"  # two clusters far apart: a user's own data, any units
    points.write_text("\n".join(f"{1000 + i % 5},{-3 * (i % 3)},a\n{-1000 - i % 5},{i % 4},b" for i in range(20)))
    _, status, *_ = client.predict(**{**values, "dataset": "your CSV", "csv": handle_file(str(points))},
                                   api_name="/foundations_playground")
    assert "validation **1.000**" in status
    with pytest.raises(AppError, match="less than minimum value 1"):  # the slider refuses it before the handler
        client.predict(**{**values, "width": 0}, api_name="/foundations_playground")

    # Push the session's model; another visitor pulls it and sees the same regions and accuracy.
    hub = ("Hub at a URL", hub_server.url, hub_server.tokens["alice"])
    _, trained, *_ = client.predict(**values, api_name="/foundations_playground")
    repo = f"alice/{repo_name}-xor"
    said = client.predict(repo, False, *hub, api_name="/foundations_playground_push")
    assert f"Pushed to **{repo}**" in said
    card = hub_server.api().model_info(repo).card_data
    assert "2d-playground" in card.tags and card.pipeline_tag == "tabular-classification"
    other = Client(client.src, verbose=False)
    with pytest.raises(AppError, match="nothing to push"):
        other.predict(repo, False, *hub, api_name="/foundations_playground_push")
    *knobs, picture, status, said = other.predict(repo, *hub, api_name="/foundations_playground_pull")
    assert status.startswith(f"Pulled **{repo}**") and said == f"Pulled **{repo}**." and picture
    assert status.split(" · ", 1)[1] == trained  # the same step and accuracies
    names = [n for n in values if n != "csv"]
    assert dict(zip(names, knobs)) == {n: values[n] for n in names}  # the form takes the pulled knobs
    with pytest.raises(AppError, match="not a 2-D playground model"):
        hubs_repo = f"alice/{repo_name}-not"
        from hub import client as hubs

        folder = tmp_path / "not"
        folder.mkdir()
        (folder / "config.json").write_text("{}")
        hubs.push_folder(folder, hubs_repo, hub_server.hub("alice"))
        other.predict(hubs_repo, *hub, api_name="/foundations_playground_pull")


# ------------------------------------------------------------------------------------------------- regression
def test_closed_form_and_gradient_descent_agree_and_the_rate_limit_holds():
    from common.errors import UserError
    from lab.regression import closed_form, features, gradient_descent, largest_curvature, split

    data = split("sine", 40, 0.2, 0)
    phi = features(data.x, 3)
    w = closed_form(phi, data.y)
    assert torch.allclose(w, torch.linalg.lstsq(phi, data.y[:, None]).solution[:, 0])
    ridge = closed_form(phi, data.y, 0.1)
    decay = torch.eye(4, dtype=phi.dtype) * 0.1 * len(phi)
    decay[0, 0] = 0
    assert torch.allclose(ridge, torch.linalg.solve(phi.T @ phi + decay, phi.T @ data.y))
    limit = 2 / largest_curvature(phi)
    *_, (_, w_gd) = gradient_descent(phi, data.y, 0.9 * limit, 20000, every=20000)
    assert (w_gd - w).abs().max() < 1e-6  # the same w*, reached step by step
    with pytest.raises(UserError, match="diverged"):
        list(gradient_descent(phi, data.y, 1.2 * limit, 2000))


def test_the_degree_sweep_shows_bias_then_variance():
    from lab.regression import degree_sweep, split

    sweep = degree_sweep(split("sine", 40, 0.2, 0))
    train, val = [s[1] for s in sweep], [s[2] for s in sweep]
    assert all(b <= a + 1e-9 for a, b in zip(train, train[1:]))  # more capacity: never a worse training fit
    best = val.index(min(val)) + 1
    assert 3 <= best <= 8 and val[0] > 2 * min(val) and val[-1] > 10 * min(val)  # underfit, then overfit


def test_the_regression_tab_streams(tab, tmp_path):
    client, _ = tab
    updates = list(client.submit(dataset="cubic", points=30, noise=0.1, degree=3, l2=0.0, lr=0.5, steps=200,
                                 seed=0, api_name="/foundations_regression"))
    picture, status = updates[-1]
    assert picture and status.startswith("Step 200 / 200") and "converges for η <" in status
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    line = tmp_path / "line.csv"
    line.write_text("x,target\n" + "\n".join(f"{i},{2 * i + 1}" for i in range(20)))
    *_, (picture, status) = client.submit(dataset="your CSV", points=30, noise=0.1, degree=1, l2=0.0, lr=0.5,
                                          steps=200, seed=0, csv=handle_file(str(line)),
                                          api_name="/foundations_regression")
    closed_train = float(status.split("closed form: train ")[1].split(",")[0])
    assert picture and closed_train < 1e-6  # a straight line through the user's points
    with pytest.raises(AppError, match="Upload a CSV"):
        client.predict(dataset="your CSV", points=30, noise=0.1, degree=1, l2=0.0, lr=0.5, steps=200, seed=0,
                       api_name="/foundations_regression")
