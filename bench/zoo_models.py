"""The zoo's models: name -> how to build it (random weights) and a realistic small input.

Each builder returns (module, args). Imports are inside the builders, so a family whose library is
missing fails as that family's rows (with the reason), and the torchaudio rows can be exported by a
second Python environment (torchaudio pairs with another torch release) that has none of the others.

Inputs: 224x224 images (or the size a model is built for), 32 to 128 tokens, 1 s of 16 kHz audio."""

import dataclasses


@dataclasses.dataclass
class ZooModel:
    name: str
    family: str
    build: object  # () -> (module, args)
    rel: float = 1e-4  # tolerance: max |got - expected| <= rel * max |expected|
    why: str = ""  # the reason for a tolerance above 1e-4, or a note shown in the table
    env: str = "main"  # "audio": exported by the torchaudio environment (PT2LITE_AUDIO_PYTHON)
    ci: bool = False  # in the fast subset that CI runs (tests/python/test_zoo.py)


def _image(size=224, channels=3, batch=1):
    import torch

    return torch.randn(batch, channels, size, size, generator=torch.Generator().manual_seed(1))


def _tokens(length=32, vocab=1000, batch=1):
    import torch

    return torch.randint(0, vocab, (batch, length), generator=torch.Generator().manual_seed(1))


def _audio(seconds=1.0, rate=16000, batch=1):
    import torch

    return torch.randn(batch, int(seconds * rate), generator=torch.Generator().manual_seed(1)) * 0.1


def torchvision_model(name, size=224, **kwargs):
    def build():
        import torchvision

        return torchvision.models.get_model(name, weights=None, **kwargs), (_image(size),)
    return build


def torchvision_video(name, frames=8, size=112):
    def build():
        import torch
        import torchvision

        x = torch.randn(1, 3, frames, size, size, generator=torch.Generator().manual_seed(1))
        return torchvision.models.get_model(name, weights=None), (x,)
    return build


def fpn_backbone(backbone):
    """Detection backbone + feature pyramid (what Faster R-CNN runs before its data-dependent heads)."""
    def build():
        import torch
        from torchvision.models.detection.backbone_utils import resnet_fpn_backbone

        class Features(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.body = resnet_fpn_backbone(backbone_name=backbone, weights=None, trainable_layers=5)

            def forward(self, x):
                return tuple(self.body(x).values())
        return Features(), (_image(),)
    return build


def timm_model(name, size=None):
    def build():
        import timm

        model = timm.create_model(name, pretrained=False)
        input_size = model.pretrained_cfg.get("input_size", (3, 224, 224))
        return model, (_image(size or input_size[-1], input_size[0]),)
    return build


def _hf_model(config_class, model_class, config, part=None):
    """A HuggingFace model built from a config (random weights): (config, model or its `part`)."""
    import transformers

    cfg = getattr(transformers, config_class)(**config)
    model = without_weight_norm(getattr(transformers, model_class)(cfg))
    return cfg, getattr(model, part) if part else model


def _hf_wrapped(model, output, input_name=None, **fixed):
    """The model with one tensor in (as keyword `input_name`, or positional), an optional padding mask,
    and its `output` field out."""
    import torch

    class Wrapped(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, x, attention_mask=None):
            kwargs = dict(fixed)
            if attention_mask is not None:
                kwargs["attention_mask"] = attention_mask
            result = self.model(**{input_name: x}, **kwargs) if input_name else self.model(x, **kwargs)
            return getattr(result, output)
    return Wrapped()


def hf_text(config_class, model_class, output="last_hidden_state", length=32, mask=False, **config):
    """Token ids (int64, and with mask=True a padding mask whose last quarter is padding) in, one tensor out."""
    def build():
        import torch

        cfg, model = _hf_model(config_class, model_class, config)
        fixed = {"use_cache": False} if getattr(cfg, "use_cache", None) is not None else {}
        ids = _tokens(length, cfg.vocab_size)
        if not mask:
            return _hf_wrapped(model, output, "input_ids", **fixed), (ids,)
        attention = torch.ones_like(ids)
        attention[:, length * 3 // 4:] = 0  # a padded batch: the last quarter is padding
        return _hf_wrapped(model, output, "input_ids", **fixed), (ids, attention)
    return build


def hf_vision(config_class, model_class, output="last_hidden_state", size=224, **config):
    def build():
        cfg, model = _hf_model(config_class, model_class, config)
        return _hf_wrapped(model, output, "pixel_values"), (_image(size, getattr(cfg, "num_channels", 3)),)
    return build


def hf_audio(config_class, model_class, output="last_hidden_state", features=None, part=None, **config):
    """features: None for raw 1 s waveforms; (mel bins, frames) for a spectrogram model (Whisper).
    part: an attribute of the model to keep (Whisper's encoder)."""
    def build():
        import torch

        _, model = _hf_model(config_class, model_class, config, part)
        if features is None:
            x = _audio()
        else:
            x = torch.randn(1, *features, generator=torch.Generator().manual_seed(1))
        return _hf_wrapped(model, output), (x,)
    return build


def without_weight_norm(module):
    """Weight norm is a training-time reparametrization: exported as is, the conv weight is computed
    from two parameters at run time, and pt2lite needs a constant filter. Folded here, as one does
    before deploying (the model's outputs are unchanged)."""
    import torch

    for m in module.modules():
        if torch.nn.utils.parametrize.is_parametrized(m, "weight"):
            torch.nn.utils.parametrize.remove_parametrizations(m, "weight")
        elif hasattr(m, "weight_g"):
            torch.nn.utils.remove_weight_norm(m)
    return module


def torchaudio_model(factory, inputs="waveform", **kwargs):
    """inputs: "waveform" ([1, 16000]), "channel" ([1, 1, 16000]), or a tuple of shapes of random
    features (with a trailing "lengths" for a [1] int64 tensor holding the time dimension)."""
    def build():
        import torch
        import torchaudio

        model = without_weight_norm(getattr(torchaudio.models, factory)(**kwargs))
        if inputs == "waveform":
            return model, (_audio(),)
        if inputs == "channel":
            return model, (_audio()[:, None],)
        g = torch.Generator().manual_seed(1)
        args = tuple(torch.randn(*shape, generator=g) for shape in inputs if shape != "lengths")
        if "lengths" in inputs:
            args += (torch.tensor([args[0].shape[1]]),)
        return model, args
    return build


def recurrent(kind, layers=2, bidirectional=False):
    def build():
        import torch

        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = getattr(torch.nn, kind)(40, 64, num_layers=layers, batch_first=True,
                                                   bidirectional=bidirectional)
                self.head = torch.nn.Linear(64 * (2 if bidirectional else 1), 10)

            def forward(self, x):
                y, _ = self.rnn(x)
                return self.head(y)
        return Net(), (torch.randn(1, 50, 40, generator=torch.Generator().manual_seed(1)),)
    return build


_SMALL_TEXT = dict(vocab_size=1000, hidden_size=128, num_hidden_layers=2, num_attention_heads=4,
                   intermediate_size=256, max_position_embeddings=256)
_SMALL_VIT = dict(hidden_size=192, num_hidden_layers=4, num_attention_heads=3, intermediate_size=384)

WEIGHT_NORM = "weight norm of the positional conv folded before export (without_weight_norm)"
Z = ZooModel
MODELS = [
    # torchvision classification
    Z("resnet18", "torchvision", torchvision_model("resnet18"), ci=True),
    Z("resnet50", "torchvision", torchvision_model("resnet50")),
    Z("resnext50_32x4d", "torchvision", torchvision_model("resnext50_32x4d")),
    Z("wide_resnet50_2", "torchvision", torchvision_model("wide_resnet50_2")),
    Z("mobilenet_v2", "torchvision", torchvision_model("mobilenet_v2")),
    Z("mobilenet_v3_small", "torchvision", torchvision_model("mobilenet_v3_small")),
    Z("mobilenet_v3_large", "torchvision", torchvision_model("mobilenet_v3_large")),
    Z("efficientnet_b0", "torchvision", torchvision_model("efficientnet_b0")),
    Z("efficientnet_v2_s", "torchvision", torchvision_model("efficientnet_v2_s")),
    Z("regnet_x_400mf", "torchvision", torchvision_model("regnet_x_400mf")),
    Z("regnet_y_400mf", "torchvision", torchvision_model("regnet_y_400mf")),
    Z("convnext_tiny", "torchvision", torchvision_model("convnext_tiny")),
    Z("vit_b_16", "torchvision", torchvision_model("vit_b_16")),
    Z("swin_t", "torchvision", torchvision_model("swin_t")),
    Z("swin_v2_t", "torchvision", torchvision_model("swin_v2_t")),
    Z("maxvit_t", "torchvision", torchvision_model("maxvit_t")),
    Z("densenet121", "torchvision", torchvision_model("densenet121")),
    Z("googlenet", "torchvision", torchvision_model("googlenet", aux_logits=False, init_weights=True)),
    Z("inception_v3", "torchvision", torchvision_model("inception_v3", 299, aux_logits=False, init_weights=True)),
    Z("mnasnet0_5", "torchvision", torchvision_model("mnasnet0_5")),
    Z("shufflenet_v2_x0_5", "torchvision", torchvision_model("shufflenet_v2_x0_5")),
    Z("squeezenet1_1", "torchvision", torchvision_model("squeezenet1_1")),
    Z("alexnet", "torchvision", torchvision_model("alexnet")),
    Z("vgg11_bn", "torchvision", torchvision_model("vgg11_bn")),
    # torchvision segmentation, detection backbones, video
    Z("fcn_resnet50", "torchvision-dense", torchvision_model("fcn_resnet50", weights_backbone=None, aux_loss=False),
      rel=3e-4, why="fp32 itself: PyTorch fp32 is 1.1e-4 off a float64 run of the same model"),
    Z("deeplabv3_mobilenet_v3_large", "torchvision-dense",
      torchvision_model("deeplabv3_mobilenet_v3_large", weights_backbone=None, aux_loss=False)),
    Z("lraspp_mobilenet_v3_large", "torchvision-dense",
      torchvision_model("lraspp_mobilenet_v3_large", weights_backbone=None)),
    Z("fpn_resnet18", "torchvision-dense", fpn_backbone("resnet18")),
    Z("fpn_resnet50", "torchvision-dense", fpn_backbone("resnet50")),
    Z("r3d_18", "torchvision-dense", torchvision_video("r3d_18")),
    Z("mc3_18", "torchvision-dense", torchvision_video("mc3_18")),
    Z("r2plus1d_18", "torchvision-dense", torchvision_video("r2plus1d_18")),
    # timm
    Z("timm/efficientnet_lite0", "timm", timm_model("efficientnet_lite0")),
    Z("timm/mobilenetv3_large_100", "timm", timm_model("mobilenetv3_large_100")),
    Z("timm/mobilenetv4_conv_small", "timm", timm_model("mobilenetv4_conv_small")),
    Z("timm/mixnet_s", "timm", timm_model("mixnet_s")),
    Z("timm/ghostnet_100", "timm", timm_model("ghostnet_100")),
    Z("timm/rexnet_100", "timm", timm_model("rexnet_100"), rel=3e-4,
      why="fp32 rounding through 50+ layers of SiLU/SE: PyTorch fp32 itself is 4e-5 off float64, LiteRT 2.1e-4"),
    Z("timm/lcnet_050", "timm", timm_model("lcnet_050")),
    Z("timm/tinynet_e", "timm", timm_model("tinynet_e")),
    Z("timm/regnety_002", "timm", timm_model("regnety_002")),
    Z("timm/dla34", "timm", timm_model("dla34")),
    Z("timm/cspresnet50", "timm", timm_model("cspresnet50")),
    Z("timm/res2net50_14w_8s", "timm", timm_model("res2net50_14w_8s")),
    Z("timm/resnest14d", "timm", timm_model("resnest14d")),
    Z("timm/ese_vovnet19b_dw", "timm", timm_model("ese_vovnet19b_dw")),
    Z("timm/hrnet_w18_small", "timm", timm_model("hrnet_w18_small")),
    Z("timm/convnext_atto", "timm", timm_model("convnext_atto")),
    Z("timm/convnextv2_atto", "timm", timm_model("convnextv2_atto")),
    Z("timm/repvit_m1", "timm", timm_model("repvit_m1")),
    Z("timm/mobileone_s0", "timm", timm_model("mobileone_s0")),
    Z("timm/fastvit_t8", "timm", timm_model("fastvit_t8")),
    Z("timm/edgenext_xx_small", "timm", timm_model("edgenext_xx_small")),
    Z("timm/mobilevit_xxs", "timm", timm_model("mobilevit_xxs"), ci=True),
    Z("timm/mobilevitv2_050", "timm", timm_model("mobilevitv2_050")),
    Z("timm/efficientformer_l1", "timm", timm_model("efficientformer_l1")),
    Z("timm/efficientformerv2_s0", "timm", timm_model("efficientformerv2_s0")),
    Z("timm/levit_128s", "timm", timm_model("levit_128s")),
    Z("timm/efficientvit_b0", "timm", timm_model("efficientvit_b0")),
    Z("timm/tiny_vit_5m_224", "timm", timm_model("tiny_vit_5m_224")),
    Z("timm/vit_tiny_patch16_224", "timm", timm_model("vit_tiny_patch16_224")),
    Z("timm/deit_tiny_patch16_224", "timm", timm_model("deit_tiny_patch16_224")),
    Z("timm/swin_tiny_patch4_window7_224", "timm", timm_model("swin_tiny_patch4_window7_224")),
    Z("timm/pit_ti_224", "timm", timm_model("pit_ti_224")),
    Z("timm/coat_lite_tiny", "timm", timm_model("coat_lite_tiny")),
    Z("timm/poolformer_s12", "timm", timm_model("poolformer_s12")),
    Z("timm/resmlp_12_224", "timm", timm_model("resmlp_12_224")),
    Z("timm/mixer_s16_224", "timm", timm_model("mixer_s16_224")),
    Z("timm/xcit_nano_12_p16_224", "timm", timm_model("xcit_nano_12_p16_224")),
    Z("timm/visformer_tiny", "timm", timm_model("visformer_tiny")),
    Z("timm/twins_svt_small", "timm", timm_model("twins_svt_small")),
    Z("timm/gernet_s", "timm", timm_model("gernet_s")),
    Z("timm/nf_resnet26", "timm", timm_model("nf_resnet26")),
    Z("timm/inception_next_tiny", "timm", timm_model("inception_next_tiny")),
    # HuggingFace transformers, built from small configs
    Z("hf/bert", "transformers", hf_text("BertConfig", "BertModel", **_SMALL_TEXT), ci=True),
    Z("hf/bert_padding_mask", "transformers", hf_text("BertConfig", "BertModel", mask=True, **_SMALL_TEXT)),
    Z("hf/distilbert", "transformers", hf_text("DistilBertConfig", "DistilBertModel", vocab_size=1000, dim=128,
                                               n_layers=2, n_heads=4, hidden_dim=256)),
    Z("hf/roberta", "transformers", hf_text("RobertaConfig", "RobertaModel", **_SMALL_TEXT)),
    Z("hf/albert", "transformers", hf_text("AlbertConfig", "AlbertModel", embedding_size=64, **_SMALL_TEXT)),
    Z("hf/electra", "transformers", hf_text("ElectraConfig", "ElectraModel", embedding_size=64, **_SMALL_TEXT)),
    Z("hf/mobilebert", "transformers", hf_text("MobileBertConfig", "MobileBertModel", vocab_size=1000,
                                               hidden_size=128, num_hidden_layers=2, num_attention_heads=4,
                                               intermediate_size=128, embedding_size=64, true_hidden_size=64,
                                               intra_bottleneck_size=64)),
    Z("hf/gpt2", "transformers", hf_text("GPT2Config", "GPT2LMHeadModel", "logits", vocab_size=1000, n_embd=128,
                                         n_layer=2, n_head=4, n_positions=256), ci=True),
    Z("hf/llama", "transformers", hf_text("LlamaConfig", "LlamaForCausalLM", "logits", num_key_value_heads=2,
                                          **_SMALL_TEXT), ci=True),
    Z("hf/llama_padding_mask", "transformers", hf_text("LlamaConfig", "LlamaForCausalLM", "logits", mask=True,
                                                       num_key_value_heads=2, **_SMALL_TEXT)),
    Z("hf/qwen2", "transformers", hf_text("Qwen2Config", "Qwen2ForCausalLM", "logits", num_key_value_heads=2,
                                          **_SMALL_TEXT)),
    Z("hf/mistral", "transformers", hf_text("MistralConfig", "MistralForCausalLM", "logits", num_key_value_heads=2,
                                            **_SMALL_TEXT)),
    Z("hf/gemma", "transformers", hf_text("GemmaConfig", "GemmaForCausalLM", "logits", num_key_value_heads=1,
                                          head_dim=32, **_SMALL_TEXT)),
    Z("hf/phi", "transformers", hf_text("PhiConfig", "PhiForCausalLM", "logits", **_SMALL_TEXT)),
    Z("hf/opt", "transformers", hf_text("OPTConfig", "OPTForCausalLM", "logits", vocab_size=1000, hidden_size=128,
                                        num_hidden_layers=2, num_attention_heads=4, ffn_dim=256,
                                        word_embed_proj_dim=128, max_position_embeddings=256)),
    Z("hf/t5_encoder", "transformers", hf_text("T5Config", "T5EncoderModel", vocab_size=1000, d_model=128, d_kv=32,
                                               d_ff=256, num_layers=2, num_heads=4)),
    Z("hf/vit", "transformers", hf_vision("ViTConfig", "ViTModel", **_SMALL_VIT)),
    Z("hf/deit", "transformers", hf_vision("DeiTConfig", "DeiTModel", **_SMALL_VIT)),
    Z("hf/dinov2", "transformers", hf_vision("Dinov2Config", "Dinov2Model", patch_size=14, **_SMALL_VIT)),
    Z("hf/swin", "transformers", hf_vision("SwinConfig", "SwinModel", embed_dim=48, depths=[2, 2, 2, 2],
                                           num_heads=[3, 3, 6, 12])),
    Z("hf/segformer", "transformers", hf_vision("SegformerConfig", "SegformerForSemanticSegmentation", "logits",
                                                size=256, hidden_sizes=[32, 64, 160, 256],
                                                decoder_hidden_size=128)),
    Z("hf/convnext", "transformers", hf_vision("ConvNextConfig", "ConvNextModel", hidden_sizes=[48, 96, 192, 384],
                                               depths=[2, 2, 2, 2])),
    Z("hf/mobilevit", "transformers", hf_vision("MobileViTConfig", "MobileViTModel", size=256)),
    Z("hf/clip_vision", "transformers", hf_vision("CLIPVisionConfig", "CLIPVisionModel", patch_size=32,
                                                  **_SMALL_VIT)),
    Z("hf/resnet", "transformers", hf_vision("ResNetConfig", "ResNetModel"), rel=3e-4,
      why="fp32 itself: PyTorch fp32 is 8.8e-5 off a float64 run of the same model"),
    Z("hf/whisper_encoder", "transformers", hf_audio("WhisperConfig", "WhisperModel", part="encoder", num_mel_bins=80, decoder_layers=1,
                                                     decoder_attention_heads=4, decoder_ffn_dim=256,
                                                     d_model=128, encoder_layers=2, encoder_attention_heads=4,
                                                     encoder_ffn_dim=256, max_source_positions=1500,
                                                     features=(80, 3000))),
    Z("hf/wav2vec2", "transformers", hf_audio("Wav2Vec2Config", "Wav2Vec2Model", hidden_size=128,
                                              num_hidden_layers=2, num_attention_heads=4, intermediate_size=256,
                                              conv_dim=(64,) * 7, num_conv_pos_embeddings=32), why=WEIGHT_NORM),
    Z("hf/hubert", "transformers", hf_audio("HubertConfig", "HubertModel", hidden_size=128, num_hidden_layers=2,
                                            num_attention_heads=4, intermediate_size=256, conv_dim=(64,) * 7,
                                            num_conv_pos_embeddings=32), why=WEIGHT_NORM),
    # recurrent layers as torch.export unrolls them
    Z("lstm", "recurrent", recurrent("LSTM"), ci=True),
    Z("lstm_bidirectional", "recurrent", recurrent("LSTM", bidirectional=True)),
    Z("gru", "recurrent", recurrent("GRU")),
    # torchaudio (exported by the torch 2.9.1 environment)
    Z("torchaudio/wav2vec2_base", "torchaudio", torchaudio_model("wav2vec2_base"), env="audio", why=WEIGHT_NORM),
    Z("torchaudio/hubert_base", "torchaudio", torchaudio_model("hubert_base"), env="audio", why=WEIGHT_NORM),
    Z("torchaudio/conv_tasnet", "torchaudio", torchaudio_model("ConvTasNet", "channel", num_sources=2), env="audio"),
    Z("torchaudio/conformer", "torchaudio", torchaudio_model(
        "Conformer", ((1, 100, 80), "lengths"), input_dim=80, num_heads=4, ffn_dim=256, num_layers=2,
        depthwise_conv_kernel_size=31), env="audio"),
    Z("torchaudio/deepspeech", "torchaudio", torchaudio_model("DeepSpeech", ((1, 1, 100, 80),), n_feature=80),
      env="audio"),
    Z("torchaudio/wav2letter", "torchaudio", torchaudio_model("Wav2Letter", "channel", num_features=1), env="audio"),
]

BY_NAME = {m.name: m for m in MODELS}
