/*
 * TIMCloud.h: the whole conversation C API of libtimconv_c in one include.
 *
 * The test extension (TIMConvExt.h) is not part of the original API and is not included here.
 */
#ifndef TIM_CLOUD_H_
#define TIM_CLOUD_H_

#include "TIMCloudDef.h"
#include "TIMErrorCode.h"
#include "TIMManager.h"
#include "TIMMessageManager.h"
#include "TIMConversationManager.h"

#endif /* TIM_CLOUD_H_ */
