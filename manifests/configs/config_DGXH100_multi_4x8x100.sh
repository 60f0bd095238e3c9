# NVIDIA's MLPerf Training ResNet-50 (MXNet, v4.0 image eos_ngc24.04_mxnet) on 4 DGX H100
# nodes: 4 nodes x 8 GPUs x 100 images per GPU = 3200 images per global batch.
#
# Written for gp2bm (docs/NVIDIA.md, "Several nodes"), modelled on the published multi-node
# DGX H100 configs of the same global batch, whose DL parameters it keeps as they are:
#   NVIDIA  training_results_v3.1  config_DGXH100_multi_8x8x50.sh   (8 x 8 x 50  = 3200)
#   Dell    training_results_v3.1  config_XE9680_multi_2x8x200.sh   (2 x 8 x 200 = 3200)
# Only BATCHSIZE (per GPU) and DGXNNODES change. The system part is that of the v4.0 image's
# config_DGXA100_common.sh (written out here: this file is read on the host, where that
# file is not), with HOROVOD_NUM_NCCL_STREAMS=2 of both multi-node configs.

## System config params (config_DGXA100_common.sh of eos_ngc24.04_mxnet)
export OMPI_MCA_btl="^openib"
export DALI_DONT_USE_MMAP=0
export MXNET_EXTENDED_NORMCONV_SUPPORT=1
export DGXNGPU=8
export DGXNSOCKET=2
export DGXSOCKETCORES=64
export DGXHT=2
export MXNET_OPTIMIZER_AGGREGATION_SIZE=54
export MXNET_ENABLE_CUDA_GRAPHS=1
export MXNET_CUDNN_NHWC_BN_HEURISTIC_FWD=1
export MXNET_CUDNN_NHWC_BN_HEURISTIC_BWD=1
export MXNET_CUDNN_NHWC_BN_ADD_HEURISTIC_BWD=1
export MXNET_CUDNN_NHWC_BN_ADD_HEURISTIC_FWD=1
export CUDNN_FORCE_KERNEL_INIT=1

## DL params: global batch 3200, as 8x8x50 and 2x8x200
export OPTIMIZER="sgdwfastlars"
export BATCHSIZE="100"
export KVSTORE="horovod"
export LR="11.0"
export WARMUP_EPOCHS="2"
export EVAL_OFFSET="2" # Targeting epoch no. 35
export EVAL_PERIOD="4"
export WD="5.0e-05"
export MOM="0.9"
export LARSETA="0.001"
export LABELSMOOTHING="0.1"
export LRSCHED="pow2"
export NUMEPOCHS=${NUMEPOCHS:-"37"}

export NETWORK="resnet-v1b-fl"

export DALI_THREADS=6
export DALI_HW_DECODER_LOAD="0.99"
export DALI_PREFETCH_QUEUE="3"
export DALI_NVJPEG_MEMPADDING="256"
export DALI_CACHE_SIZE="42288"

# DALI buffer presizing hints
export DALI_PREALLOCATE_WIDTH="5980"
export DALI_PREALLOCATE_HEIGHT="6430"
export DALI_DECODER_BUFFER_HINT="1315942" #1196311*1.1
export DALI_CROP_BUFFER_HINT="165581" #150528*1.1
export DALI_TMP_BUFFER_HINT="355568328" #871491*batch_size
export DALI_NORMALIZE_BUFFER_HINT="441549" #401408*1.1

export HOROVOD_CYCLE_TIME=0.1
export HOROVOD_FUSION_THRESHOLD=67108864
export HOROVOD_NUM_NCCL_STREAMS=2
export MXNET_HOROVOD_NUM_GROUPS=1
export MXNET_EXEC_BULK_EXEC_MAX_NODE_TRAIN_FWD=999
export MXNET_EXEC_BULK_EXEC_MAX_NODE_TRAIN_BWD=999

## System run parms
export DGXNNODES=4
export DGXSYSTEM=$(basename $(readlink -f ${BASH_SOURCE[0]}) | sed 's/^config_//' | sed 's/\.sh$//' )
WALLTIME_MINUTES=10
export WALLTIME=$(( ${NEXP:-1} * ${WALLTIME_MINUTES} + 5 ))
