# NVIDIA's MLPerf Training BERT-large (PyTorch, v4.0 image eos_ngc23.04_pytorch, packed data)
# on 4 DGX H100 nodes: 4 nodes x 8 GPUs x 24 packed samples per GPU = 768 per global batch.
#
# Written for gp2bm (docs/NVIDIA.md, "Several nodes"), modelled on the published multi-node
# config of the same global batch, whose DL parameters it keeps as they are:
#   Dell  training_results_v3.1  config_XE9680_2x8x48x1_pack.sh  (2 x 8 x 48 = 768)
# (the same DL parameters as NVIDIA's single-node config_DGXH100_1x8x48x1_pack.sh of v4.0).
# Only BATCHSIZE (per GPU) and DGXNNODES change. The system part is that of the image's
# config_DGXA100_common.sh (written out here: this file is read on the host), without its
# SLURM_NTASKS=${DGXNGPU}: across nodes, the task count is Slurm's own.

## DL params
export BATCHSIZE=24
export PACKING_FACTOR=2
export GRADIENT_STEPS=1
export LR=0.00096
export MAX_SAMPLES_TERMINATION=4500000
export MAX_STEPS=3680
export OPT_LAMB_BETA_1=0.60466
export OPT_LAMB_BETA_2=0.85437
export START_WARMUP_STEP=0
export WARMUP_PROPORTION=0.0
export WEIGHT_DECAY_RATE=0.1
export INIT_LOSS_SCALE=1024.0

export EXTRA_PARAMS="--dense_seq_output --pad_fmha --fused_bias_fc --fused_bias_mha --fused_dropout_add --fused_gemm_gelu --packed_samples --use_transformer_engine2 --cuda_graph_mode 'segmented' --use_cuda_graph "
export PHASE=2
export EVAL_ITER_START_SAMPLES=150000
export EVAL_ITER_SAMPLES=150000

## System run parms
export DGXNNODES=4
export DGXSYSTEM=$(basename $(readlink -f ${BASH_SOURCE[0]}) | sed 's/^config_//' | sed 's/\.sh$//' )
export WALLTIME_MINUTES=8
export WALLTIME=$(( ${NEXP:-1} * ${WALLTIME_MINUTES} + 5 ))

## System config params (config_DGXA100_common.sh of eos_ngc23.04_pytorch)
export DGXNGPU=8
export DGXSOCKETCORES=64
export DGXNSOCKET=2
export DGXHT=2

export CONTAINER_PRELOAD_LUSTRE=0
export USE_DDP=1
